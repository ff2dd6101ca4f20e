using Ema.Protocol;

namespace Ema.Client;

/// <summary>How the client authenticates at one server's token endpoint (spec §2(a)22, §2(a)30; decision 13).</summary>
/// <param name="ClientId">The client id registered at that server (the IdP's and each AS's ids generally differ).</param>
/// <param name="ClientSecret">The secret, for <c>client_secret_basic</c> and <c>client_secret_post</c>.</param>
/// <param name="Method">One of <see cref="ClientAuthenticationMethods"/>: basic, post, private_key_jwt or none.</param>
public sealed record ClientCredentials(string ClientId, string? ClientSecret = null, string Method = ClientAuthenticationMethods.ClientSecretBasic)
{
    /// <summary>
    /// For <c>private_key_jwt</c> (RFC 7523 §2.2): the private key as PKCS#8 PEM — EC P-256 (signs ES256) or RSA of at
    /// least 2048 bits (RS256). Its public key is what the server has registered for this client.
    /// </summary>
    public string? PrivateKeyPem { get; init; }

    /// <summary>A <c>private_key_jwt</c> registration.</summary>
    public static ClientCredentials WithPrivateKey(string clientId, string privateKeyPem) =>
        new(clientId, null, ClientAuthenticationMethods.PrivateKeyJwt) { PrivateKeyPem = privateKeyPem };

    /// <summary>Never print the secret or the key (records print their members by default).</summary>
    public override string ToString() => $"{ClientId} ({Method})";
}

/// <summary>An MCP server the client may connect to: from the IdP's catalog (decision 20) or from configuration.</summary>
/// <param name="Name">Display name, and the namespace of its tools in the bridge.</param>
/// <param name="Resource">The MCP server's RFC 9728 resource identifier, which is also its Streamable HTTP endpoint.</param>
/// <param name="AuthorizationServer">Its authorization server's issuer, when known in advance (checked against discovery).</param>
/// <param name="Scopes">Scopes to ask for first; a 403 <c>insufficient_scope</c> widens them (step-up).</param>
public sealed record EmaServer(string Name, string Resource, string? AuthorizationServer = null, IReadOnlyList<string>? Scopes = null);

/// <summary>Options of <see cref="EmaClient"/>; checked by <see cref="Validate"/> before first use.</summary>
public sealed class EmaClientOptions
{
    /// <summary>The enterprise IdP's issuer (OIDC discovery starts here).</summary>
    public string IdentityProvider { get; set; } = string.Empty;

    /// <summary>The IdP's token endpoint, when it is configured rather than discovered (spec §2(a)6).</summary>
    public string? IdentityProviderTokenEndpoint { get; set; }

    /// <summary>This client's registration at the IdP (sign-in and token exchange).</summary>
    public ClientCredentials? IdentityProviderClient { get; set; }

    /// <summary>This client's registration at each MCP authorization server, keyed by the AS issuer (spec §2(a)11:
    /// credentials are per AS and never reused at another).</summary>
    public IDictionary<string, ClientCredentials> AuthorizationServerClients { get; } = new Dictionary<string, ClientCredentials>(StringComparer.Ordinal);

    /// <summary>Servers to connect to besides (or instead of) the IdP's catalog.</summary>
    public IList<EmaServer> Servers { get; } = [];

    /// <summary>Ask the IdP for the entitled servers (decision 20). Off for IdPs without an Ema catalog.</summary>
    public bool UseCatalog { get; set; } = true;

    /// <summary>Scopes requested at sign-in (offline_access gives the refresh token that renews the ID token).</summary>
    public string SignInScope { get; set; } = "openid profile email offline_access";

    /// <summary>Tokens are renewed this long before they expire, so callers never hold an expired one.</summary>
    public TimeSpan RenewBeforeExpiry { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How many servers <see cref="EmaClient.ConnectAllAsync"/> connects to at once.</summary>
    public int MaxParallelConnections { get; set; } = 8;

    /// <summary>Step-up rounds per request (403 <c>insufficient_scope</c> or the IdP's
    /// <c>insufficient_user_authentication</c>) before the refusal is reported instead of retried.</summary>
    public int MaxStepUpAttempts { get; set; } = 2;

    /// <summary>How long the loopback redirect listener waits for the browser.</summary>
    public TimeSpan SignInTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Decision 11: when a server's authorization server offers no Enterprise-Managed Authorization, run the ordinary MCP
    /// authorization-code flow there (dynamic registration or the configured registration, PKCE, the browser) — per-server
    /// consent, which enterprise mode exists to avoid. Off by default.
    /// </summary>
    public bool AllowInteractiveAuthorization { get; set; }

    /// <summary>The client name sent in dynamic client registration (RFC 7591) for the interactive fallback.</summary>
    public string ClientName { get; set; } = "Ema";

    /// <summary>
    /// RFC 9449 with ID-JAG §8.6.1: prove possession of a key at the token exchange, so the IdP binds every ID-JAG to it
    /// (<c>cnf.jkt</c>), and at the authorization server when redeeming one. The key (P-256) is made when the client
    /// starts and never leaves memory; an ID-JAG that comes back unbound is refused (a silent downgrade). An access token
    /// the AS binds too (<c>token_type</c> DPoP) goes to the MCP server as <c>Authorization: DPoP</c> with a fresh proof on
    /// every request; <see cref="EmaClient.GetAccessTokenAsync"/> callers sending it themselves must do the same. Off by default.
    /// </summary>
    public bool UseDpop { get; set; }

    /// <summary>Development switch: accept http URLs whose host is a loopback address (decision 22).</summary>
    public bool AllowHttpOnLoopback { get; set; }

    /// <summary>Throws <see cref="InvalidOperationException"/> naming every invalid option.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrEmpty(IdentityProvider) && AllowInteractiveAuthorization && !UseCatalog)
        {
            // Interactive-only client (no enterprise IdP): allowed, every server then uses its own authorization server.
        }
        else if (!IsAcceptableUrl(IdentityProvider))
        {
            problems.Add($"IdentityProvider must be an https URL (got '{IdentityProvider}').");
        }

        if (IdentityProviderTokenEndpoint is not null && !IsAcceptableUrl(IdentityProviderTokenEndpoint))
        {
            problems.Add($"IdentityProviderTokenEndpoint must be an https URL (got '{IdentityProviderTokenEndpoint}').");
        }

        if (!string.IsNullOrEmpty(IdentityProvider) && (IdentityProviderClient is null || string.IsNullOrEmpty(IdentityProviderClient.ClientId)))
        {
            problems.Add("IdentityProviderClient is required.");
        }

        foreach (var credentials in AuthorizationServerClients.Values.Append(IdentityProviderClient).OfType<ClientCredentials>())
        {
            if (credentials.Method is not (ClientAuthenticationMethods.ClientSecretBasic or ClientAuthenticationMethods.ClientSecretPost or ClientAuthenticationMethods.PrivateKeyJwt or ClientAuthenticationMethods.None))
            {
                problems.Add($"Client '{credentials.ClientId}': unsupported authentication method '{credentials.Method}'.");
            }
            else if (credentials.Method == ClientAuthenticationMethods.PrivateKeyJwt)
            {
                if (Tokens.ClientAssertion.KeyProblem(credentials.PrivateKeyPem) is { } keyProblem)
                {
                    problems.Add($"Client '{credentials.ClientId}': private_key_jwt {keyProblem}");
                }
            }
            else if (credentials.Method != ClientAuthenticationMethods.None && string.IsNullOrEmpty(credentials.ClientSecret))
            {
                problems.Add($"Client '{credentials.ClientId}': {credentials.Method} needs a secret.");
            }
        }

        foreach (var server in Servers)
        {
            if (!IsAcceptableUrl(server.Resource))
            {
                problems.Add($"Server '{server.Name}': resource must be an https URL (got '{server.Resource}').");
            }
        }

        if (RenewBeforeExpiry < TimeSpan.Zero || MaxParallelConnections < 1 || MaxStepUpAttempts < 0 || SignInTimeout <= TimeSpan.Zero)
        {
            problems.Add("RenewBeforeExpiry, MaxParallelConnections, MaxStepUpAttempts and SignInTimeout must be positive.");
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid Ema client options: " + string.Join(" ", problems));
        }
    }

    /// <summary>https, or http to a loopback host when <see cref="AllowHttpOnLoopback"/> is set (decision 22).</summary>
    internal bool IsAcceptableUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && string.IsNullOrEmpty(uri.Fragment)
        && (uri.Scheme == Uri.UriSchemeHttps || (AllowHttpOnLoopback && uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback));
}
