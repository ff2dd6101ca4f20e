namespace Ema.Server.Model;

/// <summary>
/// An MCP client registered at the IdP (OIDC relying party and token-exchange client).
/// </summary>
public sealed record ClientApplication
{
    /// <summary>Client identifier at the IdP.</summary>
    public required string ClientId { get; init; }

    /// <summary>Display name.</summary>
    public required string Name { get; init; }

    /// <summary>Redirect URIs, matched exactly (loopback URIs on any port, RFC 8252 §7.3).</summary>
    public IReadOnlyList<string> RedirectUris { get; init; } = [];

    /// <summary>Where the client may be sent after sign-out.</summary>
    public IReadOnlyList<string> PostLogoutRedirectUris { get; init; } = [];

    /// <summary><c>client_secret_basic</c>, <c>client_secret_post</c>, <c>private_key_jwt</c> or <c>none</c> (public client).</summary>
    public required string AuthenticationMethod { get; init; }

    /// <summary>SHA-256 hash of the client secret (decision 15); null for public clients.</summary>
    public string? SecretHash { get; init; }

    /// <summary>
    /// For <c>private_key_jwt</c> (RFC 7523 §2.2; decisions 13–14): the client's public keys as a JWK Set document — the
    /// only keys its assertions are verified with.
    /// </summary>
    public string? Jwks { get; init; }

    /// <summary>
    /// Sender-constrained ID-JAGs only (RFC 9449 §10.1's <c>dpop_bound_access_tokens</c>, applied to ID-JAGs; ADR 0007): at
    /// the IdP a token exchange without a DPoP proof is refused; at the authorization server an ID-JAG that is not bound
    /// to a key (no <c>cnf</c>) is refused for this client.
    /// </summary>
    public bool RequireDpop { get; init; }

    /// <summary>Grant types the client may use.</summary>
    public IReadOnlyList<string> GrantTypes { get; init; } = [];

    /// <summary>Whether the client may use token exchange to obtain ID-JAGs.</summary>
    public bool TokenExchangeAllowed { get; init; }

    /// <summary>Whether a public client may use token exchange (off unless an admin sets it; decision 13).</summary>
    public bool PublicTokenExchangeAllowed { get; init; }

    /// <summary>Whether the client is enabled.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Whether this is a public client (no secret).</summary>
    public bool IsPublic => AuthenticationMethod == Ema.Protocol.ClientAuthenticationMethods.None;
}

/// <summary>How risky granting a scope is (policy requires more for higher risk).</summary>
public enum ScopeRisk
{
    /// <summary>Read-only or harmless.</summary>
    Low,

    /// <summary>Changes data.</summary>
    Medium,

    /// <summary>Moves money, deletes, or exposes sensitive data.</summary>
    High,
}

/// <summary>A scope a resource defines.</summary>
public sealed record ResourceScope(string Name, ScopeRisk Risk = ScopeRisk.Low, string? Description = null);

/// <summary>
/// An MCP server the enterprise allows clients to reach: its RFC 9728 resource identifier and the issuer of its
/// authorization server form the registered (audience, resource) pair of EMA-S+ §7.6.1.
/// </summary>
public sealed record ResourceApplication
{
    /// <summary>Internal id.</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public required string DisplayName { get; init; }

    /// <summary>The MCP server's resource identifier (ID-JAG <c>resource</c>).</summary>
    public required string Resource { get; init; }

    /// <summary>The issuer of its authorization server (ID-JAG <c>aud</c>).</summary>
    public required string AuthorizationServerIssuer { get; init; }

    /// <summary>The scopes the resource defines.</summary>
    public IReadOnlyList<ResourceScope> Scopes { get; init; } = [];

    /// <summary>Whether the resource is enabled.</summary>
    public bool Enabled { get; init; } = true;
}

/// <summary>Who an entitlement is for.</summary>
public enum EntitlementSubjectType
{
    /// <summary>A single user.</summary>
    User,

    /// <summary>Every member of a group.</summary>
    Group,
}

/// <summary>Entitlements v1: "user or group G may use client C with resource R and scopes S".</summary>
public sealed record Entitlement(string Id, EntitlementSubjectType SubjectType, string SubjectId, string ClientId, string ResourceId, IReadOnlyList<string> Scopes);
