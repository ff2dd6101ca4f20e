using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ema.Client.SignIn;

/// <summary>
/// The native app's redirect target (RFC 8252 §7.3): an http listener on 127.0.0.1 and an ephemeral port that accepts
/// one browser request to <c>/callback</c> and answers it with a short page. Nothing else is served.
/// </summary>
internal sealed class LoopbackRedirectListener : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public LoopbackRedirectListener()
    {
        _listener.Start();
        RedirectUri = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/callback";
    }

    public string RedirectUri { get; }

    /// <summary>Waits for the redirect and returns its query parameters.</summary>
    public async Task<IReadOnlyDictionary<string, string>> WaitAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            using var client = await _listener.AcceptTcpClientAsync(cancellationToken).ConfigureAwait(false);
            var stream = client.GetStream();
            var head = await ReadHeadAsync(stream, cancellationToken).ConfigureAwait(false);
            var requestLine = head.Split("\r\n", 2)[0].Split(' ');
            if (requestLine.Length < 2 || requestLine[0] != "GET" || !requestLine[1].StartsWith("/callback", StringComparison.Ordinal))
            {
                await WriteAsync(stream, "404 Not Found", "Not found.", cancellationToken).ConfigureAwait(false);
                continue;
            }

            var query = requestLine[1].Contains('?', StringComparison.Ordinal) ? requestLine[1][(requestLine[1].IndexOf('?', StringComparison.Ordinal) + 1)..] : string.Empty;
            var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = pair.Split('=', 2);
                parameters.TryAdd(Uri.UnescapeDataString(parts[0].Replace('+', ' ')), parts.Length > 1 ? Uri.UnescapeDataString(parts[1].Replace('+', ' ')) : string.Empty);
            }

            var ok = parameters.ContainsKey("code");
            await WriteAsync(stream, "200 OK", ok ? "Signed in to Ema. You can close this window." : "Sign-in did not complete. Return to the application for details.", cancellationToken).ConfigureAwait(false);
            return parameters;
        }
    }

    public void Dispose() => _listener.Dispose();

    private static async Task<string> ReadHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            length += read;
            if (Encoding.ASCII.GetString(buffer, 0, length).Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                break;
            }
        }

        return Encoding.ASCII.GetString(buffer, 0, length);
    }

    private static async Task WriteAsync(NetworkStream stream, string status, string message, CancellationToken cancellationToken)
    {
        var body = $"<!doctype html><meta charset=utf-8><title>Ema</title><p>{WebUtility.HtmlEncode(message)}</p>";
        var response = $"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(response), cancellationToken).ConfigureAwait(false);
    }
}
