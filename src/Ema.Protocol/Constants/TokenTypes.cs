namespace Ema.Protocol;

/// <summary>Token type identifiers (RFC 8693 §3) and the <c>token_type</c> values of token responses.</summary>
public static class TokenTypes
{
    /// <summary>The Identity Assertion JWT Authorization Grant (ID-JAG draft §4.3).</summary>
    public const string IdJag = "urn:ietf:params:oauth:token-type:id-jag";
    public const string IdToken = "urn:ietf:params:oauth:token-type:id_token";
    public const string Saml2 = "urn:ietf:params:oauth:token-type:saml2";
    public const string RefreshToken = "urn:ietf:params:oauth:token-type:refresh_token";
    public const string AccessToken = "urn:ietf:params:oauth:token-type:access_token";
    public const string Jwt = "urn:ietf:params:oauth:token-type:jwt";

    /// <summary><c>token_type</c> of a token-exchange response whose token is not an access token (RFC 8693 §2.2.1).</summary>
    public const string NotApplicable = "N_A";

    /// <summary>RFC 7009 §2.1 (OAuth Token Type Hints registry): values of <c>token_type_hint</c>.</summary>
    public const string RefreshTokenHint = "refresh_token";
    public const string AccessTokenHint = "access_token";

    /// <summary><c>token_type</c> of an access-token response (RFC 6750).</summary>
    public const string Bearer = "Bearer";

    /// <summary>RFC 9449 §5: the <c>token_type</c> (and the <c>Authorization</c> scheme) of a DPoP-bound access token.</summary>
    public const string Dpop = "DPoP";
}
