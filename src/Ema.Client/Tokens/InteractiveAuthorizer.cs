using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ema.Client.Discovery;
using Ema.Client.SignIn;
using Ema.Protocol;

namespace Ema.Client.Tokens;

/// <summary>
/// The opt-in fallback of decision 11: the MCP authorization flow at a server's own authorization server — dynamic client
/// registration (RFC 7591) unless a registration is configured, then authorization code with PKCE S256, <c>state</c>,
/// <c>resource</c> (RFC 8707) and the RFC 9207 issuer check, through the browser and the loopback listener.
/// </summary>
internal sealed class InteractiveAuthorizer(HttpClient http, EmaClientOptions options, IBrowser? browser, TimeProvider time)
{
    private readonly TokenEndpointClient _tokens = new(http, time);
    private readonly ConcurrentDictionary<string, Lazy<Task<ClientCredentials>>> _registrations = new(StringComparer.Ordinal);

    public async Task<AccessGrant> AuthorizeAsync(ResourceBinding binding, string scope, CancellationToken cancellationToken)
    {
        if (browser is null)
        {
            throw new EmaSignInRequiredException($"{binding.Resource} asks for an interactive sign-in at its own authorization server, and this client has no browser.");
        }

        var server = binding.AuthorizationServer;
        using var listener = new LoopbackRedirectListener();
        var client = await RegistrationAsync(server, listener.RedirectUri, cancellationToken).ConfigureAwait(false);
        var verifier = Pkce.NewVerifier();
        var state = Pkce.RandomValue(16);
        var query = new List<KeyValuePair<string, string>>
        {
            new(OAuthParameters.ResponseType, ResponseTypes.Code),
            new(OAuthParameters.ClientId, client.ClientId),
            new(OAuthParameters.RedirectUri, listener.RedirectUri),
            new(OAuthParameters.State, state),
            new(OAuthParameters.CodeChallenge, Pkce.Challenge(verifier)),
            new(OAuthParameters.CodeChallengeMethod, CodeChallengeMethods.S256),
            new(OAuthParameters.Resource, binding.Resource),
        };
        if (scope.Length > 0)
        {
            query.Add(new(OAuthParameters.Scope, scope));
        }

        var endpoint = server.AuthorizationEndpoint!;
        var url = new Uri(endpoint + (endpoint.Contains('?', StringComparison.Ordinal) ? "&" : "?") + string.Join("&", query.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value))));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.SignInTimeout);
        var wait = listener.WaitAsync(state, timeout.Token);
        await browser.OpenAsync(url, timeout.Token).ConfigureAwait(false);
        var callback = await wait.ConfigureAwait(false);

        if (!callback.TryGetValue(OAuthParameters.State, out var returned) || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(returned), Encoding.UTF8.GetBytes(state)))
        {
            throw new EmaProtocolException("The authorization response's state does not match the request; nothing was used.");
        }

        // RFC 9207 §2.4: the issuer must be the AS we asked, and is required when the AS says it sends it.
        callback.TryGetValue(OAuthParameters.Issuer, out var iss);
        if ((iss is not null && iss != server.Issuer) || (iss is null && server.AuthorizationResponseIssParameterSupported == true))
        {
            throw new EmaProtocolException($"The authorization response names issuer '{iss ?? "(none)"}', not '{server.Issuer}' (RFC 9207); the code was not redeemed.");
        }

        if (callback.TryGetValue(OAuthParameters.Error, out var error))
        {
            throw new EmaAccessDeniedException(new EmaRefusal(RefusalSource.AuthorizationServer, error, callback.GetValueOrDefault(OAuthParameters.ErrorDescription), null));
        }

        var result = await _tokens.PostAsync(
            server.TokenEndpoint!,
            [
                new(OAuthParameters.GrantType, GrantTypes.AuthorizationCode),
                new(OAuthParameters.Code, callback.GetValueOrDefault(OAuthParameters.Code) ?? string.Empty),
                new(OAuthParameters.RedirectUri, listener.RedirectUri),
                new(OAuthParameters.CodeVerifier, verifier),
                new(OAuthParameters.Resource, binding.Resource),
            ],
            client,
            EmaJsonContext.Default.AccessTokenResponse,
            cancellationToken).ConfigureAwait(false);
        if (result.Value is not { } token)
        {
            throw new EmaAccessDeniedException(new EmaRefusal(RefusalSource.AuthorizationServer, result.Error!.Error, result.Error.ErrorDescription, null));
        }

        var now = time.GetUtcNow();
        return new AccessGrant(token.AccessToken, now + AccessGrant.Lifetime(token.ExpiresIn), token.Scope ?? scope) { ObtainedAt = now };
    }

    /// <summary>The configured registration at this AS, or one obtained once by RFC 7591 dynamic registration.</summary>
    private Task<ClientCredentials> RegistrationAsync(AuthorizationServerMetadata server, string redirectUri, CancellationToken cancellationToken)
    {
        if (options.AuthorizationServerClients.TryGetValue(server.Issuer, out var configured))
        {
            return Task.FromResult(configured);
        }

        var lazy = _registrations.GetOrAdd(server.Issuer, _ => new Lazy<Task<ClientCredentials>>(() => RegisterAsync(server, redirectUri, cancellationToken)));
        return lazy.Value;
    }

    private async Task<ClientCredentials> RegisterAsync(AuthorizationServerMetadata server, string redirectUri, CancellationToken cancellationToken)
    {
        if (server.RegistrationEndpoint is not { } endpoint || !options.IsAcceptableUrl(endpoint))
        {
            throw new EmaProtocolException($"{server.Issuer} has no registration for this client and offers no dynamic registration.");
        }

        // RFC 8414 §2: without the list, client_secret_basic is the default method.
        var supported = server.TokenEndpointAuthMethodsSupported ?? [ClientAuthenticationMethods.ClientSecretBasic];
        var method = new[] { ClientAuthenticationMethods.ClientSecretBasic, ClientAuthenticationMethods.ClientSecretPost, ClientAuthenticationMethods.None }.FirstOrDefault(supported.Contains)
            ?? throw new EmaProtocolException($"{server.Issuer} supports none of this client's authentication methods.");
        var request = new RegistrationRequest { ClientName = options.ClientName, RedirectUris = [redirectUri], TokenEndpointAuthMethod = method };
        using var response = await http.PostAsJsonAsync(endpoint, request, RegistrationJson.Default.RegistrationRequest, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new EmaProtocolException($"{server.Issuer} refused the dynamic registration (HTTP {(int)response.StatusCode}).");
        }

        try
        {
            var registered = await response.Content.ReadFromJsonAsync(RegistrationJson.Default.RegistrationResponse, cancellationToken).ConfigureAwait(false)
                ?? throw new EmaProtocolException($"{server.Issuer} answered the registration with an empty body.");
            return new ClientCredentials(registered.ClientId, registered.ClientSecret, registered.TokenEndpointAuthMethod ?? (registered.ClientSecret is null ? ClientAuthenticationMethods.None : method));
        }
        catch (JsonException ex)
        {
            throw new EmaProtocolException($"{server.Issuer} answered the registration with invalid JSON.", ex);
        }
    }

}

/// <summary>RFC 7591 §2 client metadata sent in a registration.</summary>
internal sealed record RegistrationRequest
{
    [JsonPropertyName("client_name")]
    public required string ClientName { get; init; }

    [JsonPropertyName("redirect_uris")]
    public required IReadOnlyList<string> RedirectUris { get; init; }

    [JsonPropertyName("grant_types")]
    public IReadOnlyList<string> GrantTypes { get; init; } = [Protocol.GrantTypes.AuthorizationCode];

    [JsonPropertyName("response_types")]
    public IReadOnlyList<string> ResponseTypes { get; init; } = [Protocol.ResponseTypes.Code];

    [JsonPropertyName("token_endpoint_auth_method")]
    public required string TokenEndpointAuthMethod { get; init; }

    /// <summary>OIDC Dynamic Registration §2: a native application (loopback redirect).</summary>
    [JsonPropertyName("application_type")]
    public string ApplicationType { get; init; } = "native";
}

/// <summary>RFC 7591 §3.2.1 registration response (the members this client uses).</summary>
internal sealed record RegistrationResponse
{
    [JsonPropertyName("client_id")]
    public required string ClientId { get; init; }

    [JsonPropertyName("client_secret")]
    public string? ClientSecret { get; init; }

    [JsonPropertyName("token_endpoint_auth_method")]
    public string? TokenEndpointAuthMethod { get; init; }
}

[JsonSerializable(typeof(RegistrationRequest))]
[JsonSerializable(typeof(RegistrationResponse))]
internal sealed partial class RegistrationJson : JsonSerializerContext;
