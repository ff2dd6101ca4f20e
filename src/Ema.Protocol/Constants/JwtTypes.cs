namespace Ema.Protocol;

/// <summary>JOSE <c>typ</c> header values (RFC 7515 §4.1.9) for the tokens Ema issues and accepts.</summary>
public static class JwtTypes
{
    /// <summary>ID-JAG (ID-JAG draft §3.1). Media type <c>application/oauth-id-jag+jwt</c>.</summary>
    public const string IdJag = "oauth-id-jag+jwt";

    /// <summary>The full media-type spelling of <see cref="IdJag"/>, also accepted (decision 3, RFC 7515 §4.1.9).</summary>
    public const string IdJagMediaType = "application/oauth-id-jag+jwt";

    /// <summary>RFC 9449 §4.2: the <c>typ</c> of a DPoP proof.</summary>
    public const string DpopProof = "dpop+jwt";

    /// <summary>RFC 9068 §2.1 JWT access token.</summary>
    public const string AccessToken = "at+jwt";

    /// <summary>The full media-type spelling of <see cref="AccessToken"/>.</summary>
    public const string AccessTokenMediaType = "application/at+jwt";

    /// <summary>Plain JWT, used for OIDC ID tokens.</summary>
    public const string Jwt = "JWT";
}

/// <summary>JWS algorithm names (RFC 7518 §3.1).</summary>
public static class SecurityAlgorithms
{
    public const string EcdsaSha256 = "ES256";
    public const string EcdsaSha384 = "ES384";
    public const string EcdsaSha512 = "ES512";
    public const string RsaSha256 = "RS256";
    public const string RsaSha384 = "RS384";
    public const string RsaSha512 = "RS512";
    public const string RsaSsaPssSha256 = "PS256";
    public const string RsaSsaPssSha384 = "PS384";
    public const string RsaSsaPssSha512 = "PS512";
    public const string None = "none";

    /// <summary>Algorithms accepted from a trusted issuer unless configured otherwise (decision 4).</summary>
    public static readonly IReadOnlyList<string> DefaultAccepted = [EcdsaSha256, RsaSha256, RsaSsaPssSha256];
}

/// <summary>JOSE header parameter names (RFC 7515 §4.1).</summary>
public static class JoseHeaderNames
{
    public const string Algorithm = "alg";
    public const string Type = "typ";
    public const string KeyId = "kid";
    public const string Critical = "crit";
    public const string JwkSetUrl = "jku";
    public const string Jwk = "jwk";
    public const string X509Url = "x5u";
    public const string X509Chain = "x5c";
    public const string Encryption = "enc";
    public const string ContentType = "cty";
}

/// <summary>JSON Web Key member names (RFC 7517 §4, RFC 7518 §6).</summary>
public static class JsonWebKeyNames
{
    public const string KeyType = "kty";
    public const string Use = "use";
    public const string KeyId = "kid";
    public const string Algorithm = "alg";
    public const string Curve = "crv";
    public const string X = "x";
    public const string Y = "y";
    public const string D = "d";
    public const string Modulus = "n";
    public const string Exponent = "e";
    public const string Keys = "keys";
    public const string KeyTypeEc = "EC";
    public const string KeyTypeRsa = "RSA";
    public const string CurveP256 = "P-256";
    public const string CurveP384 = "P-384";
    public const string CurveP521 = "P-521";
    public const string UseSignature = "sig";

    /// <summary>Members only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1): never in a public JWK.</summary>
    public static readonly IReadOnlyList<string> PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
}
