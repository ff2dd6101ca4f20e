using Ema.Protocol;
using Ema.Tokens.Issuers;

namespace Ema.Tokens.IdJag;

/// <summary>What an authorization server knows when it validates an ID-JAG presented with the jwt-bearer grant.</summary>
public sealed record IdJagValidationRequest
{
    /// <summary>The <c>assertion</c> parameter.</summary>
    public required string Assertion { get; init; }

    /// <summary>The client that authenticated this request (its id at this authorization server).</summary>
    public required string AuthenticatedClientId { get; init; }

    /// <summary>This authorization server's issuer identifier: the only acceptable <c>aud</c>.</summary>
    public required string AuthorizationServerIssuer { get; init; }

    /// <summary>Resource identifiers this authorization server protects (decision 7).</summary>
    public required IReadOnlyCollection<string> ServedResources { get; init; }

    /// <summary><c>resource</c> parameters of the token request, if any (decision 7).</summary>
    public IReadOnlyList<string> RequestedResources { get; init; } = [];

    /// <summary>
    /// The RFC 7638 thumbprint of the key of the request's valid DPoP proof, if it carried one (RFC 9449; checked
    /// before): an assertion bound to a key (<c>cnf.jkt</c>) is accepted only with a proof by that key.
    /// </summary>
    public string? ProofKeyThumbprint { get; init; }

    /// <summary>The authenticated client accepts only key-bound assertions (its registration says DPoP is required).</summary>
    public bool RequireConfirmation { get; init; }
}

/// <summary>An ID-JAG that passed every rule, with the values the authorization server acts on.</summary>
public sealed record ValidatedIdJag
{
    /// <summary>The trusted issuer that signed it.</summary>
    public required TrustedIssuer Issuer { get; init; }

    /// <summary><c>sub</c>: the user at the issuer.</summary>
    public required string Subject { get; init; }

    /// <summary><c>client_id</c> (equal to the authenticated client).</summary>
    public required string ClientId { get; init; }

    /// <summary><c>jti</c> (now consumed).</summary>
    public required string JwtId { get; init; }

    /// <summary>The one resource the access token will be bound to.</summary>
    public required string Resource { get; init; }

    /// <summary>All resources the ID-JAG named (empty when it named none).</summary>
    public required IReadOnlyList<string> Resources { get; init; }

    /// <summary>Scopes granted by the IdP (deduplicated, in order).</summary>
    public required IReadOnlyList<string> Scopes { get; init; }

    /// <summary><c>iat</c>.</summary>
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary><c>exp</c>.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary><c>auth_time</c>, when present.</summary>
    public DateTimeOffset? AuthTime { get; init; }

    /// <summary><c>acr</c>, when present.</summary>
    public string? Acr { get; init; }

    /// <summary><c>amr</c>, when present.</summary>
    public IReadOnlyList<string>? Amr { get; init; }

    /// <summary><c>tenant</c>, when present.</summary>
    public string? Tenant { get; init; }

    /// <summary><c>email</c>, when present (not verified by this validator).</summary>
    public string? Email { get; init; }

    /// <summary>The key that verified it.</summary>
    public required string KeyId { get; init; }
}

/// <summary>Either a <see cref="ValidatedIdJag"/> or the <see cref="OAuthError"/> to answer with.</summary>
public readonly record struct IdJagValidationResult(ValidatedIdJag? Value, OAuthError? Error)
{
    /// <summary>True when the ID-JAG is valid.</summary>
    public bool IsValid => Value is not null;

    /// <summary>The <c>jti</c> of the assertion when it could be read (for the audit record of a refusal).</summary>
    public string? JwtId { get; init; }

    /// <summary>The <c>iss</c> of the assertion when it could be read.</summary>
    public string? IssuerId { get; init; }

    /// <summary>The <c>sub</c> of the assertion when it could be read.</summary>
    public string? Subject { get; init; }
}
