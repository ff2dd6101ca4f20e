namespace Ema.Protocol;

/// <summary>HTTP media types and header values used on the wire.</summary>
public static class MediaTypes
{
    public const string FormUrlEncoded = "application/x-www-form-urlencoded";
    public const string Json = "application/json";
    public const string JwkSet = "application/jwk-set+json";
    public const string EventStream = "text/event-stream";
}

/// <summary>HTTP header values fixed by the specs.</summary>
public static class HeaderValues
{
    /// <summary>RFC 6749 §5.1: token responses and errors must not be cached.</summary>
    public const string NoStore = "no-store";
    public const string NoCache = "no-cache";
    public const string BearerScheme = "Bearer";
    public const string BasicScheme = "Basic";

    /// <summary>RFC 9449 §4.1: the request header carrying a DPoP proof.</summary>
    public const string DpopHeader = "DPoP";
}

/// <summary>Well-known URI suffixes (RFC 8615) for metadata documents.</summary>
public static class WellKnownPaths
{
    /// <summary>RFC 8414 §3.</summary>
    public const string OAuthAuthorizationServer = "/.well-known/oauth-authorization-server";

    /// <summary>OpenID Connect Discovery §4.</summary>
    public const string OpenIdConfiguration = "/.well-known/openid-configuration";

    /// <summary>RFC 9728 §3.</summary>
    public const string OAuthProtectedResource = "/.well-known/oauth-protected-resource";
}

/// <summary>RFC 6750 §3 <c>WWW-Authenticate</c> parameter names and RFC 9728 §5.1 additions.</summary>
public static class BearerChallengeParameters
{
    public const string Realm = "realm";
    public const string Error = "error";
    public const string ErrorDescription = "error_description";
    public const string Scope = "scope";
    public const string ResourceMetadata = "resource_metadata";
}
