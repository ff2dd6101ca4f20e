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

    /// <summary>
    /// Waits for the redirect that carries <paramref name="expectedState"/> and returns its query parameters. Requests to
    /// other paths, or with another state, are answered and ignored, so a stray local request cannot end the sign-in;
    /// connections are served concurrently with a short read timeout, so an idle one cannot stall it.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> WaitAsync(string expectedState, CancellationToken cancellationToken)
    {
        var result = new TaskCompletionSource<IReadOnlyDictionary<string, string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = cancellationToken.Register(() => result.TrySetCanceled(cancellationToken));
        var accepting = AcceptLoopAsync(expectedState, result, cancellationToken);
        try
        {
            return await result.Task.ConfigureAwait(false);
        }
        finally
        {
            _listener.Stop();
            await accepting.ConfigureAwait(false);
        }
    }

    private async Task AcceptLoopAsync(string expectedState, TaskCompletionSource<IReadOnlyDictionary<string, string>> result, CancellationToken cancellationToken)
    {
        while (!result.Task.IsCompleted)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = ServeAsync(client, expectedState, result, cancellationToken);
        }
    }

    private static async Task ServeAsync(TcpClient client, string expectedState, TaskCompletionSource<IReadOnlyDictionary<string, string>> result, CancellationToken cancellationToken)
    {
        using (client)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                var stream = client.GetStream();
                var head = await ReadHeadAsync(stream, timeout.Token).ConfigureAwait(false);
                var requestLine = head.Split("\r\n", 2)[0].Split(' ');
                var target = requestLine.Length >= 2 ? requestLine[1] : string.Empty;
                var question = target.IndexOf('?', StringComparison.Ordinal);
                var path = question < 0 ? target : target[..question];
                if (requestLine[0] != "GET" || path != "/callback")
                {
                    await WriteAsync(stream, "404 Not Found", "Not found.", timeout.Token).ConfigureAwait(false);
                    return;
                }

                var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var pair in (question < 0 ? string.Empty : target[(question + 1)..]).Split('&', StringSplitOptions.RemoveEmptyEntries))
                {
                    var parts = pair.Split('=', 2);
                    parameters.TryAdd(Uri.UnescapeDataString(parts[0].Replace('+', ' ')), parts.Length > 1 ? Uri.UnescapeDataString(parts[1].Replace('+', ' ')) : string.Empty);
                }

                // RFC 6749 §10.12: only the response to this client's own request (its state) is taken.
                if (!parameters.TryGetValue("state", out var state) || !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(state), Encoding.UTF8.GetBytes(expectedState)))
                {
                    await WriteAsync(stream, "400 Bad Request", "This is not the sign-in this application started.", timeout.Token).ConfigureAwait(false);
                    return;
                }

                var ok = parameters.ContainsKey("code");
                await WriteAsync(stream, "200 OK", ok ? "Signed in to Ema. You can close this window." : "Sign-in did not complete. Return to the application for details.", timeout.Token).ConfigureAwait(false);
                result.TrySetResult(parameters);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
            {
                // a slow or broken local connection: ignored, the listener keeps waiting for the browser
            }
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
