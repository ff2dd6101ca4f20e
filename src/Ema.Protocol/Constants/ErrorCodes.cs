namespace Ema.Protocol;

/// <summary>OAuth error codes (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 8707 §2, RFC 8628 §3.5,
/// OIDC Core §3.1.2.6, RFC 7009 §2.2.1, ID-JAG draft step-up).</summary>
public static class ErrorCodes
{
    public const string InvalidRequest = "invalid_request";
    public const string InvalidClient = "invalid_client";
    public const string InvalidGrant = "invalid_grant";
    public const string UnauthorizedClient = "unauthorized_client";
    public const string UnsupportedGrantType = "unsupported_grant_type";
    public const string InvalidScope = "invalid_scope";
    public const string InvalidTarget = "invalid_target";
    public const string AccessDenied = "access_denied";
    public const string UnsupportedResponseType = "unsupported_response_type";
    public const string ServerError = "server_error";
    public const string TemporarilyUnavailable = "temporarily_unavailable";
    public const string InvalidToken = "invalid_token";
    public const string InsufficientScope = "insufficient_scope";
    public const string InsufficientUserAuthentication = "insufficient_user_authentication";
    public const string LoginRequired = "login_required";
    public const string InteractionRequired = "interaction_required";
    public const string AuthorizationPending = "authorization_pending";
    public const string SlowDown = "slow_down";
    public const string ExpiredToken = "expired_token";
    public const string InvalidAuthorizationDetails = "invalid_authorization_details";

    /// <summary>RFC 9449 §5: the DPoP proof of a token request is invalid.</summary>
    public const string InvalidDpopProof = "invalid_dpop_proof";

    /// <summary>RFC 7009 §2.2.1: the server does not revoke this kind of token.</summary>
    public const string UnsupportedTokenType = "unsupported_token_type";
}
