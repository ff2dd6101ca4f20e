namespace Ema.Protocol;

/// <summary>Request and response parameter names (RFC 6749, RFC 7636, RFC 8693 §2.1, RFC 7523 §2.1, RFC 8707, OIDC Core).</summary>
public static class OAuthParameters
{
    public const string GrantType = "grant_type";
    public const string ClientId = "client_id";
    public const string ClientSecret = "client_secret";
    public const string ClientAssertion = "client_assertion";
    public const string ClientAssertionType = "client_assertion_type";
    public const string Scope = "scope";
    public const string Resource = "resource";
    public const string Audience = "audience";
    public const string RequestedTokenType = "requested_token_type";
    public const string SubjectToken = "subject_token";
    public const string SubjectTokenType = "subject_token_type";
    public const string ActorToken = "actor_token";
    public const string ActorTokenType = "actor_token_type";
    public const string AuthorizationDetails = "authorization_details";

    /// <summary>The member every <c>authorization_details</c> entry must have (RFC 9396 §2).</summary>
    public const string AuthorizationDetailType = "type";
    public const string Assertion = "assertion";
    public const string Code = "code";
    public const string CodeVerifier = "code_verifier";
    public const string CodeChallenge = "code_challenge";
    public const string CodeChallengeMethod = "code_challenge_method";
    public const string RedirectUri = "redirect_uri";
    public const string RefreshToken = "refresh_token";
    public const string ResponseType = "response_type";
    public const string State = "state";
    public const string Nonce = "nonce";
    public const string Prompt = "prompt";
    public const string MaxAge = "max_age";
    public const string AcrValues = "acr_values";
    public const string LoginHint = "login_hint";
    public const string IdTokenHint = "id_token_hint";
    public const string PostLogoutRedirectUri = "post_logout_redirect_uri";
    public const string DeviceCode = "device_code";
    public const string UserCode = "user_code";

    /// <summary>RFC 7009 §2.1: the token to revoke, and what kind the client thinks it is.</summary>
    public const string Token = "token";
    public const string TokenTypeHint = "token_type_hint";

    /// <summary>RFC 9207 §2: the issuer in an authorization response.</summary>
    public const string Issuer = "iss";

    // Response members (RFC 6749 §5.1, RFC 8693 §2.2.1, RFC 6749 §5.2).
    public const string AccessToken = "access_token";
    public const string TokenType = "token_type";
    public const string ExpiresIn = "expires_in";
    public const string IdToken = "id_token";
    public const string IssuedTokenType = "issued_token_type";
    public const string Error = "error";
    public const string ErrorDescription = "error_description";
    public const string ErrorUri = "error_uri";

    /// <summary>Ema extension member on a policy refusal: the decision id an admin can look up in the audit trail (decision 10).</summary>
    public const string EmaDecisionId = "ema_decision_id";

    /// <summary>Ema extension member carrying the stable error id of <see cref="ErrorIds"/>.</summary>
    public const string EmaErrorId = "ema_error_id";
}
