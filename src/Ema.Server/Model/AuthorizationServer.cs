namespace Ema.Server.Model;

/// <summary>A customer organization at the authorization server; accounts and data are per tenant.</summary>
public sealed record Tenant(string Id, string Name);

/// <summary>
/// An enterprise IdP this authorization server accepts ID-JAGs from (spec-requirements §7 item 12). Each belongs to
/// exactly one tenant, so its users can only ever reach that tenant's accounts.
/// </summary>
public sealed record TrustedIssuerRegistration
{
    public required string Issuer { get; init; }

    public required string TenantId { get; init; }

    /// <summary>
    /// For an issuer that serves several customer organizations from one <c>iss</c>: the IdP's own tenant whose users
    /// this registration accepts. Every ID-JAG must then carry exactly this <c>tenant</c> claim (ID-JAG §6.1, §6.4;
    /// spec-requirements §2(c)16); null for a single-tenant issuer, whose <c>sub</c> is unique per <c>iss</c>.
    /// </summary>
    public string? IssuerTenant { get; init; }

    /// <summary>RFC 8414 / OIDC metadata URL whose <c>jwks_uri</c> is used (one of the three key locations).</summary>
    public string? MetadataUri { get; init; }

    /// <summary>JWKS URL.</summary>
    public string? JwksUri { get; init; }

    /// <summary>An inline JWKS document.</summary>
    public string? InlineJwks { get; init; }

    /// <summary>Accepted signing algorithms (default ES256, RS256, PS256).</summary>
    public IReadOnlyList<string> AllowedAlgorithms { get; init; } = Ema.Protocol.SecurityAlgorithms.DefaultAccepted;

    /// <summary>When set, only these clients may redeem this issuer's ID-JAGs.</summary>
    public IReadOnlyList<string>? AllowedClientIds { get; init; }

    /// <summary>Create accounts on first sight of a subject (decision 17).</summary>
    public bool JitProvisioning { get; init; } = true;

    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>Opt-in trailing-slash tolerance on <c>aud</c> (decision 6).</summary>
    public bool TolerateAudienceTrailingSlash { get; init; }

    public bool Enabled { get; init; } = true;

    // Value equality, lists included (a record compares list references): the registry keeps an issuer's key source,
    // with its JWKS cache and refetch budget, for as long as a re-read registration equals the one it was built from.
    public bool Equals(TrustedIssuerRegistration? other) =>
        other is not null
        && Issuer == other.Issuer && TenantId == other.TenantId && IssuerTenant == other.IssuerTenant && MetadataUri == other.MetadataUri && JwksUri == other.JwksUri
        && InlineJwks == other.InlineJwks && AllowedAlgorithms.SequenceEqual(other.AllowedAlgorithms, StringComparer.Ordinal)
        && (AllowedClientIds is null ? other.AllowedClientIds is null : other.AllowedClientIds is not null && AllowedClientIds.SequenceEqual(other.AllowedClientIds, StringComparer.Ordinal))
        && JitProvisioning == other.JitProvisioning && ClockSkew == other.ClockSkew && MaxAge == other.MaxAge
        && TolerateAudienceTrailingSlash == other.TolerateAudienceTrailingSlash && Enabled == other.Enabled;

    public override int GetHashCode() => HashCode.Combine(Issuer, TenantId, IssuerTenant, MetadataUri, JwksUri, InlineJwks, Enabled);
}

/// <summary>A resource (MCP server) this authorization server issues tokens for.</summary>
public sealed record ProtectedResource
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    /// <summary>RFC 9728 resource identifier: the access token's <c>aud</c>.</summary>
    public required string Resource { get; init; }

    public IReadOnlyList<ResourceScope> Scopes { get; init; } = [];
}

/// <summary>A local account, identified by (tenant, issuer, subject) (decision 17).</summary>
public sealed record Account(string Id, string TenantId, string Issuer, string Subject, string? Email, DateTimeOffset CreatedAt);
