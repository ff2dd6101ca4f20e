using System.Net;
using System.Net.Http.Headers;
using Ema.Client.Discovery;
using Ema.Client.Tokens;
using Ema.Protocol;

namespace Ema.Client.Http;

/// <summary>
/// Puts this server's Ema access token on every request (spec §2(a)34: the Authorization header, never the URL) and
/// handles the server's answers: on 401 the token is dropped and a fresh one obtained once (spec §2(a)37); on 403
/// <c>insufficient_scope</c> the challenged scopes are added and a new token obtained, a bounded number of times
/// (MCP step-up). Use it as the pipeline of the <c>HttpClient</c> given to the MCP SDK's <c>HttpClientTransport</c>.
/// </summary>
public sealed class EmaAuthorizationHandler : DelegatingHandler
{
    private readonly EmaClient _client;
    private readonly EmaServer _server;
    private IReadOnlyCollection<string>? _scopes;

    internal EmaAuthorizationHandler(EmaClient client, EmaServer server, HttpMessageHandler inner)
        : base(inner)
    {
        _client = client;
        _server = server;
        _scopes = server.Scopes;
    }

    /// <summary>The scopes this connection asks for now (grows with step-ups).</summary>
    public IReadOnlyCollection<string> Scopes => Volatile.Read(ref _scopes) ?? [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!IsForThisServer(request.RequestUri))
        {
            // A token for this server goes to this server only (spec §2(a)35; RFC 8707 audience restriction).
            throw new InvalidOperationException($"This handler authorizes requests to {_server.Resource} only, not to {request.RequestUri}.");
        }

        var binding = await _client.BindAsync(_server, cancellationToken).ConfigureAwait(false);
        if (!binding.Interactive)
        {
            Volatile.Write(ref _scopes, _scopes ?? binding.ScopesSupported);
        }

        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);

        // The interactive fallback asks for nothing before the server's first challenge names the scope it wants
        // (MCP authorization, "Scope Selection Strategy"); EMA connections always carry a token.
        var grant = _scopes is null ? null : await _client.Broker.GetAsync(binding, Scopes, null, cancellationToken).ConfigureAwait(false);
        var response = await SendWithAsync(request, body, grant, first: true, cancellationToken).ConfigureAwait(false);
        var retriedUnauthorized = false;
        for (var stepUps = 0; ; )
        {
            var challenge = BearerChallenge.From(response.Headers);
            if (response.StatusCode == HttpStatusCode.Unauthorized && !retriedUnauthorized)
            {
                // No token yet (interactive), or the server no longer accepts this one (expired early, keys rotated,
                // revoked): one fresh token, once.
                retriedUnauthorized = true;
                response.Dispose();
                if (_scopes is null)
                {
                    Volatile.Write(ref _scopes, challenge?.Scope?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? binding.ScopesSupported);
                }

                grant = await _client.Broker.GetAsync(binding, Scopes, rejectedToken: grant?.AccessToken, cancellationToken).ConfigureAwait(false);
                response = await SendWithAsync(request, body, grant, first: false, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (response.StatusCode == HttpStatusCode.Forbidden && challenge?.Error == ErrorCodes.InsufficientScope
                && challenge.Scope is { Length: > 0 } needed && stepUps < _client.Options.MaxStepUpAttempts)
            {
                var wider = Scopes.Union(needed.Split(' ', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal).ToArray();
                if (wider.Length == Scopes.Count)
                {
                    return response; // the token already had these scopes: asking again cannot help
                }

                stepUps++;
                Volatile.Write(ref _scopes, wider);
                response.Dispose();
                grant = await _client.Broker.GetAsync(binding, wider, null, cancellationToken).ConfigureAwait(false);
                if (grant.Scope is { } granted && needed.Split(' ', StringSplitOptions.RemoveEmptyEntries).Except(granted.Split(' '), StringComparer.Ordinal).ToArray() is { Length: > 0 } withheld)
                {
                    // The organization granted less than the server needs: a policy answer, reported rather than retried.
                    throw new EmaAccessDeniedException(new EmaRefusal(RefusalSource.IdentityProvider, ErrorCodes.InsufficientScope, $"your organization does not grant {string.Join(' ', withheld)} on {_server.Name}", null));
                }

                response = await SendWithAsync(request, body, grant, first: false, cancellationToken).ConfigureAwait(false);
                continue;
            }

            return response;
        }
    }

    private Task<HttpResponseMessage> SendWithAsync(HttpRequestMessage original, byte[]? body, AccessGrant? grant, bool first, CancellationToken cancellationToken)
    {
        var request = first ? original : Clone(original, body);
        if (first && body is not null)
        {
            var content = new ByteArrayContent(body);
            foreach (var header in original.Content!.Headers)
            {
                content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            request.Content = content;
        }

        request.Headers.Authorization = grant is null ? null : new AuthenticationHeaderValue(grant.DpopBound ? TokenTypes.Dpop : HeaderValues.BearerScheme, grant.AccessToken);
        request.Headers.Remove(HeaderValues.DpopHeader);
        if (grant is { DpopBound: true })
        {
            // RFC 9449 §7: a fresh proof per request, for its method and URI, carrying the token's hash.
            request.Headers.Add(HeaderValues.DpopHeader, _client.Broker.ResourceProof(request.Method.Method, request.RequestUri!, grant.AccessToken));
        }

        return base.SendAsync(request, cancellationToken);
    }

    private bool IsForThisServer(Uri? uri)
    {
        var resource = new Uri(_server.Resource);
        if (uri is null || !uri.IsAbsoluteUri || Uri.Compare(uri, resource, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) != 0)
        {
            return false;
        }

        var path = resource.AbsolutePath.TrimEnd('/');
        return path.Length == 0 || uri.AbsolutePath == path || uri.AbsolutePath.StartsWith(path + "/", StringComparison.Ordinal);
    }

    private static HttpRequestMessage Clone(HttpRequestMessage original, byte[]? body)
    {
        var clone = new HttpRequestMessage(original.Method, original.RequestUri) { Version = original.Version, VersionPolicy = original.VersionPolicy };
        foreach (var header in original.Headers)
        {
            clone.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        if (body is not null)
        {
            clone.Content = new ByteArrayContent(body);
            foreach (var header in original.Content!.Headers)
            {
                clone.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        return clone;
    }
}
