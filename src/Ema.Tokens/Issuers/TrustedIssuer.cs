using Ema.Protocol;
using Ema.Tokens.Keys;

namespace Ema.Tokens.Issuers;

/// <summary>
/// An enterprise IdP whose ID-JAGs an authorization server accepts, with the rules that apply to it
/// (spec-requirements §7 item 12; decisions 4–6).
/// </summary>
public sealed record TrustedIssuer
{
    /// <summary>The issuer identifier, compared exactly with the ID-JAG's <c>iss</c> (decision 6).</summary>
    public required string Issuer { get; init; }

    /// <summary>Where this issuer's keys come from (and only this issuer's).</summary>
    public required IIssuerKeySource Keys { get; init; }

    /// <summary>Signing algorithms accepted from this issuer (default ES256, RS256, PS256; never none or HS*).</summary>
    public IReadOnlyList<string> AllowedAlgorithms { get; init; } = SecurityAlgorithms.DefaultAccepted;

    /// <summary>Clock skew tolerated on <c>exp</c>, <c>nbf</c> and <c>iat</c> (decision 5: 60 s).</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Oldest <c>iat</c> accepted (decision 5: 600 s).</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>Longest <c>exp - iat</c> accepted (decision 5: 600 s).</summary>
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>When set, only these authenticated clients may redeem this issuer's ID-JAGs.</summary>
    public IReadOnlySet<string>? AllowedClientIds { get; init; }

    /// <summary>When set, the ID-JAG's <c>tenant</c> claim must equal it (ID-JAG draft §6).</summary>
    public string? Tenant { get; init; }

    /// <summary>Opt-in tolerance of one trailing slash difference between <c>aud</c> and this server's issuer (decision 6).</summary>
    public bool TolerateAudienceTrailingSlash { get; init; }

    /// <summary>The customer organization (tenant) at the authorization server this issuer belongs to.</summary>
    public string? LocalTenantId { get; init; }
}

/// <summary>Looks up trusted issuers by their exact identifier.</summary>
public interface ITrustedIssuerRegistry
{
    /// <summary>The trusted issuer named exactly <paramref name="issuer"/>, or null.</summary>
    ValueTask<TrustedIssuer?> FindAsync(string issuer, CancellationToken cancellationToken);
}

/// <summary>A fixed registry (configuration-defined issuers and tests).</summary>
public sealed class InMemoryTrustedIssuerRegistry : ITrustedIssuerRegistry
{
    private readonly Dictionary<string, TrustedIssuer> _issuers;

    /// <summary>Creates the registry; duplicate issuer identifiers are a configuration error.</summary>
    public InMemoryTrustedIssuerRegistry(IEnumerable<TrustedIssuer> issuers)
    {
        ArgumentNullException.ThrowIfNull(issuers);
        _issuers = new Dictionary<string, TrustedIssuer>(StringComparer.Ordinal);
        foreach (var issuer in issuers)
        {
            if (!_issuers.TryAdd(issuer.Issuer, issuer))
            {
                throw new ArgumentException($"Trusted issuer '{issuer.Issuer}' is configured twice.", nameof(issuers));
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<TrustedIssuer?> FindAsync(string issuer, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_issuers.GetValueOrDefault(issuer));
}
