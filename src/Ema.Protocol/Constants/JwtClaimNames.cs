namespace Ema.Protocol;

/// <summary>JWT claim names used by ID-JAGs, access tokens and ID tokens
/// (RFC 7519 §4.1, RFC 9068 §2.2, ID-JAG draft §3.1, OIDC Core §2).</summary>
public static class JwtClaimNames
{
    public const string Issuer = "iss";
    public const string Subject = "sub";
    public const string Audience = "aud";
    public const string ExpiresAt = "exp";
    public const string NotBefore = "nbf";
    public const string IssuedAt = "iat";
    public const string JwtId = "jti";
    public const string ClientId = "client_id";
    public const string Scope = "scope";
    public const string Resource = "resource";
    public const string AuthorizationDetails = "authorization_details";
    public const string Actor = "act";
    public const string Tenant = "tenant";
    public const string AudienceTenant = "aud_tenant";
    public const string AudienceSubject = "aud_sub";
    public const string Email = "email";
    public const string EmailVerified = "email_verified";
    public const string Name = "name";
    public const string PreferredUsername = "preferred_username";
    public const string Confirmation = "cnf";
    public const string JwkThumbprint = "jkt";

    /// <summary>DPoP proof: the HTTP method of the request (RFC 9449 §4.2).</summary>
    public const string HttpMethod = "htm";

    /// <summary>DPoP proof: the HTTP target URI of the request, without query and fragment (RFC 9449 §4.2).</summary>
    public const string HttpUri = "htu";

    /// <summary>DPoP proof: base64url SHA-256 of the access token it is presented with (RFC 9449 §4.2).</summary>
    public const string DpopAccessTokenHash = "ath";
    public const string AuthTime = "auth_time";
    public const string AuthenticationContextClass = "acr";
    public const string AuthenticationMethods = "amr";
    public const string Nonce = "nonce";
    public const string SessionId = "sid";
    public const string AuthorizedParty = "azp";
    public const string AccessTokenHash = "at_hash";
    public const string Groups = "groups";
    public const string Roles = "roles";
}
