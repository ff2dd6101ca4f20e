namespace Ema.Tokens.Jose;

/// <summary>
/// The registered and profile claims of a JWT claims set, read once with a strict reader. Values are untrusted until a
/// validator has checked the signature and the rules that apply.
/// </summary>
public sealed class JwtPayload
{
    /// <summary><c>iss</c>.</summary>
    public string? Issuer { get; internal set; }

    /// <summary><c>sub</c>.</summary>
    public string? Subject { get; internal set; }

    /// <summary><c>aud</c> values (null when absent).</summary>
    public IReadOnlyList<string>? Audiences { get; internal set; }

    /// <summary>Whether <c>aud</c> was a JSON array (even of one element).</summary>
    public bool AudienceIsArray { get; internal set; }

    /// <summary><c>exp</c> in seconds since the epoch.</summary>
    public long? ExpiresAt { get; internal set; }

    /// <summary><c>nbf</c> in seconds since the epoch.</summary>
    public long? NotBefore { get; internal set; }

    /// <summary><c>iat</c> in seconds since the epoch.</summary>
    public long? IssuedAt { get; internal set; }

    /// <summary><c>jti</c>.</summary>
    public string? JwtId { get; internal set; }

    /// <summary><c>client_id</c>.</summary>
    public string? ClientId { get; internal set; }

    /// <summary><c>scope</c> (space separated).</summary>
    public string? Scope { get; internal set; }

    /// <summary><c>resource</c> values (string or array on the wire).</summary>
    public IReadOnlyList<string>? Resources { get; internal set; }

    /// <summary><c>tenant</c>.</summary>
    public string? Tenant { get; internal set; }

    /// <summary><c>auth_time</c> in seconds since the epoch.</summary>
    public long? AuthTime { get; internal set; }

    /// <summary><c>acr</c>.</summary>
    public string? Acr { get; internal set; }

    /// <summary><c>amr</c>.</summary>
    public IReadOnlyList<string>? Amr { get; internal set; }

    /// <summary><c>nonce</c>.</summary>
    public string? Nonce { get; internal set; }

    /// <summary><c>sid</c>.</summary>
    public string? SessionId { get; internal set; }

    /// <summary><c>email</c>.</summary>
    public string? Email { get; internal set; }

    /// <summary><c>azp</c>.</summary>
    public string? AuthorizedParty { get; internal set; }

    /// <summary>Whether a <c>cnf</c> claim was present (RFC 7800).</summary>
    public bool HasConfirmation { get; internal set; }

    /// <summary><c>cnf.jkt</c> when present (RFC 9449 §6.1).</summary>
    public string? ConfirmationJkt { get; internal set; }

    /// <summary><c>htm</c> (DPoP proofs, RFC 9449 §4.2).</summary>
    public string? HttpMethod { get; internal set; }

    /// <summary><c>htu</c> (DPoP proofs).</summary>
    public string? HttpUri { get; internal set; }

    /// <summary><c>ath</c> (DPoP proofs presented with an access token).</summary>
    public string? AccessTokenHash { get; internal set; }

    /// <summary>The types of the <c>authorization_details</c> entries (RFC 9396 §2), in order, when the claim is present.</summary>
    public IReadOnlyList<string>? AuthorizationDetailTypes { get; internal set; }

    /// <summary>Names of claims that are not read into a property above (kept for policy and diagnostics).</summary>
    public IReadOnlyCollection<string> OtherClaimNames { get; internal set; } = [];
}
