namespace Ema.Protocol;

/// <summary>Values of <c>authorization_grant_profiles_supported</c> (ID-JAG draft §7.2).</summary>
public static class GrantProfiles
{
    public const string IdJag = "urn:ietf:params:oauth:grant-profile:id-jag";
}

/// <summary>Identifiers of MCP extensions.</summary>
public static class McpExtensions
{
    /// <summary>The MCP Enterprise-Managed Authorization extension.</summary>
    public const string EnterpriseManagedAuthorization = "io.modelcontextprotocol/enterprise-managed-authorization";
}

/// <summary>Client assertion types (RFC 7523 §2.2).</summary>
public static class ClientAssertionTypes
{
    public const string JwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
}

/// <summary>Client authentication methods (RFC 7591 §2, OIDC Core §9).</summary>
public static class ClientAuthenticationMethods
{
    public const string ClientSecretBasic = "client_secret_basic";
    public const string ClientSecretPost = "client_secret_post";
    public const string PrivateKeyJwt = "private_key_jwt";
    public const string None = "none";
}

/// <summary>PKCE code challenge methods (RFC 7636 §4.2).</summary>
public static class CodeChallengeMethods
{
    public const string S256 = "S256";
}

/// <summary>OpenID Connect scope values and authentication context values.</summary>
public static class OidcScopes
{
    public const string OpenId = "openid";
    public const string OfflineAccess = "offline_access";
    public const string Profile = "profile";
    public const string Email = "email";
}

/// <summary>Response types (RFC 6749 §3.1.1).</summary>
public static class ResponseTypes
{
    public const string Code = "code";
}

/// <summary>OIDC Core §3.1.2.1 <c>prompt</c> values.</summary>
public static class PromptValues
{
    public const string None = "none";
    public const string Login = "login";
    public const string Consent = "consent";
}

/// <summary>OIDC <c>subject_types_supported</c> values.</summary>
public static class SubjectTypes
{
    public const string Public = "public";
}
