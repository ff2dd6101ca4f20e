namespace Ema.Protocol;

/// <summary><c>grant_type</c> values (RFC 6749 §4, RFC 8693 §2.1, RFC 7523 §2.1, RFC 8628 §3.4).</summary>
public static class GrantTypes
{
    public const string AuthorizationCode = "authorization_code";
    public const string RefreshToken = "refresh_token";
    public const string ClientCredentials = "client_credentials";

    /// <summary>RFC 8693 token exchange: the client asks the enterprise IdP for an ID-JAG.</summary>
    public const string TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";

    /// <summary>RFC 7523 §2.1 JWT bearer grant: the client redeems the ID-JAG at the MCP server's authorization server.</summary>
    public const string JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";

    /// <summary>RFC 8628 §3.4 device authorization grant.</summary>
    public const string DeviceCode = "urn:ietf:params:oauth:grant-type:device_code";
}
