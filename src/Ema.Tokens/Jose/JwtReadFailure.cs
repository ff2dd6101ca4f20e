namespace Ema.Tokens.Jose;

/// <summary>Why a compact JWS could not be read. Each validator maps these to its own stable error ids.</summary>
public enum JwtReadFailure
{
    /// <summary>Read succeeded.</summary>
    None,

    /// <summary>Longer than the configured maximum.</summary>
    TooLarge,

    /// <summary>Not three strict base64url segments.</summary>
    Malformed,

    /// <summary>Five segments: a JWE (RFC 7516), which Ema does not accept.</summary>
    Encrypted,

    /// <summary>The JOSE header is not a JSON object, repeats a member, or has a member of the wrong type.</summary>
    HeaderMalformed,

    /// <summary>The header carries <c>crit</c>: extensions Ema does not understand (RFC 7515 §4.1.11).</summary>
    CriticalHeader,

    /// <summary>The claims set is not a JSON object or repeats a claim (RFC 7519 §4).</summary>
    PayloadMalformed,

    /// <summary>A registered claim has the wrong JSON type; see <see cref="JwsReadResult.FailedClaim"/>.</summary>
    ClaimType,
}
