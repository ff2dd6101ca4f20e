namespace Ema.Protocol;

/// <summary>
/// The catalog of stable error ids (style rule 7). Ranges: 1xxx request and generic OAuth errors,
/// 11xx form parsing, 21xx ID-JAG validation, 23xx access-token validation, 24xx key retrieval, 30xx client
/// authentication, 31xx token exchange at the IdP, 32xx code and refresh grants, 33xx the authorization endpoint, 34xx jwt-bearer beyond the ID-JAG rules.
/// Every id is documented in <c>docs/errors.md</c>.
/// </summary>
public static class ErrorIds
{
    private const int BadRequest = 400;
    private const int Unauthorized = 401;
    private const int Forbidden = 403;

    // ----- Generic OAuth errors (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8707 §2) -----
    public static readonly ErrorDescriptor InvalidRequest = new("EMA1000", ErrorCodes.InvalidRequest, BadRequest, "The request is malformed.");
    public static readonly ErrorDescriptor InvalidClient = new("EMA1001", ErrorCodes.InvalidClient, Unauthorized, "Client authentication failed.");
    public static readonly ErrorDescriptor InvalidGrant = new("EMA1002", ErrorCodes.InvalidGrant, BadRequest, "The grant is invalid.");
    public static readonly ErrorDescriptor UnauthorizedClient = new("EMA1003", ErrorCodes.UnauthorizedClient, BadRequest, "The client is not allowed to use this grant.");
    public static readonly ErrorDescriptor UnsupportedGrantType = new("EMA1004", ErrorCodes.UnsupportedGrantType, BadRequest, "The grant type is not supported.");
    public static readonly ErrorDescriptor InvalidScope = new("EMA1005", ErrorCodes.InvalidScope, BadRequest, "The requested scope is invalid or not permitted.");
    public static readonly ErrorDescriptor InvalidTarget = new("EMA1006", ErrorCodes.InvalidTarget, BadRequest, "The requested resource or audience is not acceptable.");
    public static readonly ErrorDescriptor InvalidToken = new("EMA1007", ErrorCodes.InvalidToken, Unauthorized, "The access token is invalid.");
    public static readonly ErrorDescriptor InsufficientScope = new("EMA1008", ErrorCodes.InsufficientScope, Forbidden, "The access token does not carry the required scope.");
    public static readonly ErrorDescriptor InsufficientUserAuthentication = new("EMA1009", ErrorCodes.InsufficientUserAuthentication, BadRequest, "A stronger or more recent sign-in is required.");
    public static readonly ErrorDescriptor ServerError = new("EMA1010", ErrorCodes.ServerError, 500, "The server could not complete the request.");
    public static readonly ErrorDescriptor AccessDenied = new("EMA1011", ErrorCodes.AccessDenied, Forbidden, "Access was denied.");

    // ----- Form parsing (RFC 6749 §3.2, Appendix B) -----
    public static readonly ErrorDescriptor FormBodyTooLarge = new("EMA1101", ErrorCodes.InvalidRequest, BadRequest, "The request body is larger than the token endpoint accepts.");
    public static readonly ErrorDescriptor FormRepeatedParameter = new("EMA1102", ErrorCodes.InvalidRequest, BadRequest, "A request parameter was included more than once.");
    public static readonly ErrorDescriptor FormMalformedEncoding = new("EMA1103", ErrorCodes.InvalidRequest, BadRequest, "The request body is not valid application/x-www-form-urlencoded.");
    public static readonly ErrorDescriptor FormTooManyParameters = new("EMA1104", ErrorCodes.InvalidRequest, BadRequest, "The request has too many parameters.");
    public static readonly ErrorDescriptor FormInvalidUtf8 = new("EMA1105", ErrorCodes.InvalidRequest, BadRequest, "A request parameter is not valid UTF-8.");
    public static readonly ErrorDescriptor FormWrongContentType = new("EMA1106", ErrorCodes.InvalidRequest, BadRequest, "The token endpoint accepts only application/x-www-form-urlencoded bodies.");
    public static readonly ErrorDescriptor FormEmptyParameterName = new("EMA1107", ErrorCodes.InvalidRequest, BadRequest, "A request parameter has no name.");
    public static readonly ErrorDescriptor MissingParameter = new("EMA1110", ErrorCodes.InvalidRequest, BadRequest, "A required request parameter is missing.");
    public static readonly ErrorDescriptor UnsupportedParameterValue = new("EMA1111", ErrorCodes.InvalidRequest, BadRequest, "A request parameter has a value this server does not support.");

    // ----- DPoP proofs at token endpoints (RFC 9449 §4.3, §5): invalid_dpop_proof -----
    public static readonly ErrorDescriptor DpopProofMalformed = new("EMA1201", ErrorCodes.InvalidDpopProof, BadRequest, "The DPoP proof is not one well-formed JWT with typ dpop+jwt and the claims jti, htm, htu and iat (RFC 9449 §4.2).");
    public static readonly ErrorDescriptor DpopProofAlgorithmNotAllowed = new("EMA1202", ErrorCodes.InvalidDpopProof, BadRequest, "The DPoP proof's alg is not an accepted asymmetric algorithm for its key.");
    public static readonly ErrorDescriptor DpopProofKeyInvalid = new("EMA1203", ErrorCodes.InvalidDpopProof, BadRequest, "The DPoP proof's jwk header is missing, holds a private key, or is not a usable public key.");
    public static readonly ErrorDescriptor DpopProofSignatureInvalid = new("EMA1204", ErrorCodes.InvalidDpopProof, BadRequest, "The DPoP proof's signature does not verify with the key in its jwk header.");
    public static readonly ErrorDescriptor DpopProofTargetMismatch = new("EMA1205", ErrorCodes.InvalidDpopProof, BadRequest, "The DPoP proof's htm or htu does not match this request.");
    public static readonly ErrorDescriptor DpopProofStale = new("EMA1206", ErrorCodes.InvalidDpopProof, BadRequest, "The DPoP proof's iat is outside the window this server accepts.");
    public static readonly ErrorDescriptor DpopProofReplayed = new("EMA1207", ErrorCodes.InvalidDpopProof, BadRequest, "The DPoP proof was already used.");
    public static readonly ErrorDescriptor DpopProofRequired = new("EMA1208", ErrorCodes.InvalidDpopProof, BadRequest, "This client must present a DPoP proof: its ID-JAGs are always bound to a key.");

    // ----- ID-JAG validation at the authorization server (RFC 7523 §3, ID-JAG draft §4.4.1): invalid_grant unless noted -----
    public static readonly ErrorDescriptor IdJagMalformed = new("EMA2100", ErrorCodes.InvalidGrant, BadRequest, "The assertion is not a well-formed signed JWT.");
    public static readonly ErrorDescriptor IdJagTooLarge = new("EMA2101", ErrorCodes.InvalidGrant, BadRequest, "The assertion is larger than this server accepts.");
    public static readonly ErrorDescriptor IdJagEncrypted = new("EMA2102", ErrorCodes.InvalidGrant, BadRequest, "Encrypted assertions are not accepted by this server.");
    public static readonly ErrorDescriptor IdJagHeaderMalformed = new("EMA2103", ErrorCodes.InvalidGrant, BadRequest, "The assertion header is not a valid JOSE header.");
    public static readonly ErrorDescriptor IdJagPayloadMalformed = new("EMA2104", ErrorCodes.InvalidGrant, BadRequest, "The assertion claims are not a valid JWT claims set.");
    public static readonly ErrorDescriptor IdJagTypeInvalid = new("EMA2105", ErrorCodes.InvalidGrant, BadRequest, "The assertion is not an ID-JAG (typ must be oauth-id-jag+jwt).");
    public static readonly ErrorDescriptor IdJagAlgorithmNotAllowed = new("EMA2106", ErrorCodes.InvalidGrant, BadRequest, "The assertion's signing algorithm is not accepted from this issuer.");
    public static readonly ErrorDescriptor IdJagCriticalHeader = new("EMA2107", ErrorCodes.InvalidGrant, BadRequest, "The assertion requires header extensions this server does not understand.");
    public static readonly ErrorDescriptor IdJagIssuerMissing = new("EMA2108", ErrorCodes.InvalidGrant, BadRequest, "The assertion has no issuer.");
    public static readonly ErrorDescriptor IdJagIssuerUntrusted = new("EMA2109", ErrorCodes.InvalidGrant, BadRequest, "The assertion's issuer is not trusted by this authorization server.");
    public static readonly ErrorDescriptor IdJagKeyNotFound = new("EMA2110", ErrorCodes.InvalidGrant, BadRequest, "The assertion's signing key is not among the trusted issuer's keys.");
    public static readonly ErrorDescriptor IdJagKeyAlgorithmMismatch = new("EMA2111", ErrorCodes.InvalidGrant, BadRequest, "The assertion's algorithm does not match the issuer key.");
    public static readonly ErrorDescriptor IdJagSignatureInvalid = new("EMA2112", ErrorCodes.InvalidGrant, BadRequest, "The assertion's signature is invalid.");
    public static readonly ErrorDescriptor IdJagKeysUnavailable = new("EMA2113", ErrorCodes.InvalidGrant, BadRequest, "The trusted issuer's signing keys could not be retrieved.");
    public static readonly ErrorDescriptor IdJagAudienceMissing = new("EMA2114", ErrorCodes.InvalidGrant, BadRequest, "The assertion has no audience.");
    public static readonly ErrorDescriptor IdJagAudienceMismatch = new("EMA2115", ErrorCodes.InvalidGrant, BadRequest, "The assertion's audience does not identify this authorization server.");
    public static readonly ErrorDescriptor IdJagAudienceMultiple = new("EMA2116", ErrorCodes.InvalidGrant, BadRequest, "The assertion's audience must name exactly one authorization server.");
    public static readonly ErrorDescriptor IdJagExpirationMissing = new("EMA2117", ErrorCodes.InvalidGrant, BadRequest, "The assertion has no expiry (exp).");
    public static readonly ErrorDescriptor IdJagExpired = new("EMA2118", ErrorCodes.InvalidGrant, BadRequest, "The assertion has expired.");
    public static readonly ErrorDescriptor IdJagNotYetValid = new("EMA2119", ErrorCodes.InvalidGrant, BadRequest, "The assertion is not valid yet (nbf).");
    public static readonly ErrorDescriptor IdJagIssuedAtMissing = new("EMA2120", ErrorCodes.InvalidGrant, BadRequest, "The assertion has no issue time (iat).");
    public static readonly ErrorDescriptor IdJagIssuedInFuture = new("EMA2121", ErrorCodes.InvalidGrant, BadRequest, "The assertion's issue time is in the future.");
    public static readonly ErrorDescriptor IdJagTooOld = new("EMA2122", ErrorCodes.InvalidGrant, BadRequest, "The assertion was issued too long ago.");
    public static readonly ErrorDescriptor IdJagLifetimeTooLong = new("EMA2123", ErrorCodes.InvalidGrant, BadRequest, "The assertion's lifetime is longer than this server accepts.");
    public static readonly ErrorDescriptor IdJagJtiMissing = new("EMA2124", ErrorCodes.InvalidGrant, BadRequest, "The assertion has no unique identifier (jti).");
    public static readonly ErrorDescriptor IdJagReplayed = new("EMA2125", ErrorCodes.InvalidGrant, BadRequest, "The assertion has already been used.");
    public static readonly ErrorDescriptor IdJagClientIdMissing = new("EMA2126", ErrorCodes.InvalidGrant, BadRequest, "The assertion does not name the client (client_id).");
    public static readonly ErrorDescriptor IdJagClientMismatch = new("EMA2127", ErrorCodes.InvalidGrant, BadRequest, "The assertion was issued for a different client.");
    public static readonly ErrorDescriptor IdJagClientNotAllowed = new("EMA2128", ErrorCodes.InvalidGrant, BadRequest, "This client may not redeem assertions from this issuer.");
    public static readonly ErrorDescriptor IdJagSubjectMissing = new("EMA2129", ErrorCodes.InvalidGrant, BadRequest, "The assertion has no subject.");
    public static readonly ErrorDescriptor IdJagResourceInvalid = new("EMA2130", ErrorCodes.InvalidGrant, BadRequest, "The assertion's resource claim is not a valid resource identifier.");
    public static readonly ErrorDescriptor IdJagResourceNotServed = new("EMA2131", ErrorCodes.InvalidGrant, BadRequest, "The assertion names no resource protected by this authorization server.");
    public static readonly ErrorDescriptor IdJagResourceAmbiguous = new("EMA2132", ErrorCodes.InvalidGrant, BadRequest, "The assertion names no resource and this server protects more than one.");
    public static readonly ErrorDescriptor IdJagResourceParameterMismatch = new("EMA2133", ErrorCodes.InvalidTarget, BadRequest, "The requested resource is not one the assertion was issued for.");
    public static readonly ErrorDescriptor IdJagConfirmationUnsupported = new("EMA2134", ErrorCodes.InvalidGrant, BadRequest, "The assertion is sender-constrained (cnf) but no proof of possession was presented.");
    public static readonly ErrorDescriptor IdJagTenantMismatch = new("EMA2135", ErrorCodes.InvalidGrant, BadRequest, "The assertion's tenant does not match the tenant configured for its issuer.");
    public static readonly ErrorDescriptor IdJagScopeMalformed = new("EMA2136", ErrorCodes.InvalidGrant, BadRequest, "The assertion's scope claim is malformed.");
    public static readonly ErrorDescriptor IdJagAuthorizationDetailsMalformed = new("EMA2137", ErrorCodes.InvalidGrant, BadRequest, "The assertion's authorization_details claim is not a JSON array of objects with a type (RFC 9396 §2).");
    public static readonly ErrorDescriptor IdJagConfirmationRequired = new("EMA2140", ErrorCodes.InvalidGrant, BadRequest, "This client's assertions must be bound to a DPoP key (cnf), and this one is not.");
    public static readonly ErrorDescriptor IdJagConfirmationMismatch = new("EMA2139", ErrorCodes.InvalidGrant, BadRequest, "The DPoP proof's key is not the key the assertion is bound to (cnf.jkt).");
    public static readonly ErrorDescriptor IdJagAuthorizationDetailsUnsupported = new("EMA2138", ErrorCodes.InvalidAuthorizationDetails, BadRequest, "The assertion carries authorization details of a type this authorization server does not support (RFC 9396 §5).");

    // ----- Access-token validation at a resource server (RFC 9068 §4, RFC 6750 §3.1): invalid_token -----
    public static readonly ErrorDescriptor AccessTokenMalformed = new("EMA2300", ErrorCodes.InvalidToken, Unauthorized, "The access token is malformed.");
    public static readonly ErrorDescriptor AccessTokenTypeInvalid = new("EMA2301", ErrorCodes.InvalidToken, Unauthorized, "The token is not an RFC 9068 access token (typ must be at+jwt).");
    public static readonly ErrorDescriptor AccessTokenAlgorithmNotAllowed = new("EMA2302", ErrorCodes.InvalidToken, Unauthorized, "The access token's signing algorithm is not accepted.");
    public static readonly ErrorDescriptor AccessTokenSignatureInvalid = new("EMA2303", ErrorCodes.InvalidToken, Unauthorized, "The access token's signature is invalid.");
    public static readonly ErrorDescriptor AccessTokenIssuerInvalid = new("EMA2304", ErrorCodes.InvalidToken, Unauthorized, "The access token was not issued by this resource's authorization server.");
    public static readonly ErrorDescriptor AccessTokenAudienceInvalid = new("EMA2305", ErrorCodes.InvalidToken, Unauthorized, "The access token was not issued for this resource.");
    public static readonly ErrorDescriptor AccessTokenExpired = new("EMA2306", ErrorCodes.InvalidToken, Unauthorized, "The access token has expired.");
    public static readonly ErrorDescriptor AccessTokenNotYetValid = new("EMA2307", ErrorCodes.InvalidToken, Unauthorized, "The access token is not valid yet.");
    public static readonly ErrorDescriptor AccessTokenClaimMissing = new("EMA2308", ErrorCodes.InvalidToken, Unauthorized, "The access token lacks a required claim.");
    public static readonly ErrorDescriptor AccessTokenKeyNotFound = new("EMA2309", ErrorCodes.InvalidToken, Unauthorized, "The access token's signing key is unknown.");
    public static readonly ErrorDescriptor AccessTokenDpopBound = new("EMA2311", ErrorCodes.InvalidToken, Unauthorized, "This access token is bound to a DPoP key: present it with the DPoP scheme and a proof by that key (RFC 9449 section 7).");
    public static readonly ErrorDescriptor AccessTokenNotDpopBound = new("EMA2312", ErrorCodes.InvalidToken, Unauthorized, "This access token is not bound to a key: present it with the Bearer scheme.");
    public static readonly ErrorDescriptor AccessTokenDpopProofInvalid = new("EMA2313", ErrorCodes.InvalidDpopProof, Unauthorized, "The DPoP proof presented with the access token is invalid, or not by the key the token is bound to (RFC 9449 section 7.1).");
    public static readonly ErrorDescriptor AccessTokenKeysUnavailable = new("EMA2310", ErrorCodes.InvalidToken, Unauthorized, "The authorization server's signing keys could not be retrieved.");

    // ----- Key sources (JWKS retrieval; surfaced through the error of the token being validated) -----
    public static readonly ErrorDescriptor JwksFetchFailed = new("EMA2400", ErrorCodes.ServerError, 500, "A JSON Web Key Set could not be fetched or parsed.");
    public static readonly ErrorDescriptor JwksInsecureUri = new("EMA2401", ErrorCodes.ServerError, 500, "A JSON Web Key Set location is not https.");

    // ----- Client authentication at token endpoints (RFC 6749 §2.3, §5.2; decisions 13–15) -----
    public static readonly ErrorDescriptor ClientAuthenticationRequired = new("EMA3001", ErrorCodes.InvalidClient, Unauthorized, "Client authentication is required.");
    public static readonly ErrorDescriptor ClientUnknown = new("EMA3002", ErrorCodes.InvalidClient, Unauthorized, "Client authentication failed.");
    public static readonly ErrorDescriptor ClientSecretInvalid = new("EMA3003", ErrorCodes.InvalidClient, Unauthorized, "Client authentication failed.");
    public static readonly ErrorDescriptor ClientAuthenticationMethodMismatch = new("EMA3004", ErrorCodes.InvalidClient, Unauthorized, "The client used an authentication method it is not registered for.");
    public static readonly ErrorDescriptor ClientAuthenticationMalformed = new("EMA3005", ErrorCodes.InvalidClient, Unauthorized, "The client credentials are malformed.");
    public static readonly ErrorDescriptor ClientAuthenticationMultipleMethods = new("EMA3006", ErrorCodes.InvalidRequest, BadRequest, "The client used more than one authentication method.");
    public static readonly ErrorDescriptor ClientDisabled = new("EMA3007", ErrorCodes.InvalidClient, Unauthorized, "The client is disabled.");
    public static readonly ErrorDescriptor GrantTypeNotAllowed = new("EMA3008", ErrorCodes.UnauthorizedClient, BadRequest, "The client is not allowed to use this grant type.");
    public static readonly ErrorDescriptor ClientAssertionInvalid = new("EMA3010", ErrorCodes.InvalidClient, Unauthorized, "The client assertion (private_key_jwt, RFC 7523 §3) is invalid: its signature, issuer, subject, audience, expiry or jti.");
    public static readonly ErrorDescriptor ClientAssertionReplayed = new("EMA3011", ErrorCodes.InvalidClient, Unauthorized, "The client assertion was already used.");
    public static readonly ErrorDescriptor PublicClientTokenExchangeNotAllowed = new("EMA3009", ErrorCodes.InvalidClient, Unauthorized, "Token exchange requires client authentication for this client.");

    // ----- Token exchange at the IdP (RFC 8693 §2.2.2; ID-JAG draft §4.3; decision 10) -----
    public static readonly ErrorDescriptor RequestedTokenTypeUnsupported = new("EMA3101", ErrorCodes.InvalidRequest, BadRequest, "Only ID-JAGs (urn:ietf:params:oauth:token-type:id-jag) can be requested.");
    public static readonly ErrorDescriptor SubjectTokenTypeUnsupported = new("EMA3102", ErrorCodes.InvalidRequest, BadRequest, "The subject token type is not supported.");
    public static readonly ErrorDescriptor SubjectTokenInvalid = new("EMA3103", ErrorCodes.InvalidRequest, BadRequest, "The subject token is not a valid token issued by this identity provider.");
    public static readonly ErrorDescriptor SubjectTokenExpired = new("EMA3104", ErrorCodes.InvalidRequest, BadRequest, "The subject token has expired.");
    public static readonly ErrorDescriptor SubjectTokenClientMismatch = new("EMA3105", ErrorCodes.InvalidRequest, BadRequest, "The subject token was issued to a different client.");
    public static readonly ErrorDescriptor ActorTokenUnsupported = new("EMA3106", ErrorCodes.InvalidRequest, BadRequest, "Actor tokens are not supported.");
    public static readonly ErrorDescriptor AudienceRequired = new("EMA3107", ErrorCodes.InvalidRequest, BadRequest, "Exactly one audience (the authorization server's issuer) is required.");
    public static readonly ErrorDescriptor ResourceRequired = new("EMA3108", ErrorCodes.InvalidRequest, BadRequest, "Exactly one resource (the MCP server's resource identifier) is required.");
    public static readonly ErrorDescriptor ResourceUnknown = new("EMA3109", ErrorCodes.InvalidTarget, BadRequest, "The requested resource is not registered with this identity provider.");
    public static readonly ErrorDescriptor AudienceResourceMismatch = new("EMA3110", ErrorCodes.InvalidTarget, BadRequest, "The audience is not the authorization server registered for this resource.");
    public static readonly ErrorDescriptor PolicyDenied = new("EMA3111", ErrorCodes.InvalidGrant, BadRequest, "Your organization's policy does not allow this access.");
    public static readonly ErrorDescriptor ScopeNotEntitled = new("EMA3112", ErrorCodes.InvalidScope, BadRequest, "None of the requested scopes is allowed for you with this client and resource.");
    public static readonly ErrorDescriptor ScopeUnknown = new("EMA3113", ErrorCodes.InvalidScope, BadRequest, "A requested scope is not defined by the resource.");
    public static readonly ErrorDescriptor UserDisabled = new("EMA3114", ErrorCodes.InvalidGrant, BadRequest, "The user's account is disabled.");
    public static readonly ErrorDescriptor AuditUnavailable = new("EMA3115", ErrorCodes.ServerError, 500, "The decision could not be recorded; nothing was issued.");
    public static readonly ErrorDescriptor ResourceDisabled = new("EMA3116", ErrorCodes.InvalidTarget, BadRequest, "The requested resource is disabled.");
    public static readonly ErrorDescriptor AuthorizationDetailsMalformed = new("EMA3118", ErrorCodes.InvalidAuthorizationDetails, BadRequest, "authorization_details is not a JSON array of objects with a type (RFC 9396 §2).");
    public static readonly ErrorDescriptor AuthorizationDetailsUnsupported = new("EMA3119", ErrorCodes.InvalidAuthorizationDetails, BadRequest, "This identity provider supports no authorization details type (RFC 9396 §5); request scopes instead.");
    public static readonly ErrorDescriptor PolicyUnreadable = new("EMA3117", ErrorCodes.InvalidGrant, BadRequest, "Your organization's policy cannot be read; access is refused until an administrator repairs it.");

    // ----- Authorization code and refresh token grants (RFC 6749 §4.1.3, §6; RFC 7636 §4.6) -----
    public static readonly ErrorDescriptor AuthorizationCodeInvalid = new("EMA3201", ErrorCodes.InvalidGrant, BadRequest, "The authorization code is invalid, expired or already used.");
    public static readonly ErrorDescriptor PkceVerifierInvalid = new("EMA3202", ErrorCodes.InvalidGrant, BadRequest, "The PKCE code verifier does not match the code challenge.");
    public static readonly ErrorDescriptor RedirectUriMismatch = new("EMA3203", ErrorCodes.InvalidGrant, BadRequest, "The redirect URI does not match the authorization request.");
    public static readonly ErrorDescriptor RefreshTokenInvalid = new("EMA3204", ErrorCodes.InvalidGrant, BadRequest, "The refresh token is invalid, expired or revoked.");
    public static readonly ErrorDescriptor RefreshTokenReused = new("EMA3205", ErrorCodes.InvalidGrant, BadRequest, "The refresh token was already used; its whole family is now revoked.");
    public static readonly ErrorDescriptor SessionEnded = new("EMA3206", ErrorCodes.InvalidGrant, BadRequest, "The sign-in session has ended.");
    public static readonly ErrorDescriptor DeviceAuthorizationPending = new("EMA3207", ErrorCodes.AuthorizationPending, BadRequest, "The user has not yet completed the sign-in on the other device (RFC 8628 §3.5).");
    public static readonly ErrorDescriptor DeviceSlowDown = new("EMA3208", ErrorCodes.SlowDown, BadRequest, "Polling too fast: wait 5 seconds longer between requests (RFC 8628 §3.5).");
    public static readonly ErrorDescriptor DeviceCodeExpired = new("EMA3209", ErrorCodes.ExpiredToken, BadRequest, "The device code has expired; start the sign-in again.");
    public static readonly ErrorDescriptor DeviceAccessDenied = new("EMA3210", ErrorCodes.AccessDenied, BadRequest, "The user declined the sign-in on the other device.");
    public static readonly ErrorDescriptor DeviceCodeInvalid = new("EMA3211", ErrorCodes.InvalidGrant, BadRequest, "The device code is unknown, already used, or was issued to another client.");
    public static readonly ErrorDescriptor DeviceAuthorizationsExhausted = new("EMA3212", ErrorCodes.TemporarilyUnavailable, BadRequest, "Too many device sign-ins are pending; try again in a few minutes.");
    public static readonly ErrorDescriptor ClientDisconnected = new("EMA3213", ErrorCodes.InvalidGrant, BadRequest, "The user disconnected this client after approving the sign-in; sign in again.");

    // ----- Authorization endpoint (RFC 6749 §4.1.2.1; RFC 7636 §4.4.1; OIDC Core §3.1.2.6) -----
    public static readonly ErrorDescriptor AuthorizeClientUnknown = new("EMA3301", ErrorCodes.InvalidRequest, BadRequest, "The client is unknown or disabled.");
    public static readonly ErrorDescriptor AuthorizeRedirectUriInvalid = new("EMA3302", ErrorCodes.InvalidRequest, BadRequest, "The redirect URI is not registered for this client.");
    public static readonly ErrorDescriptor AuthorizePkceRequired = new("EMA3303", ErrorCodes.InvalidRequest, BadRequest, "PKCE with code_challenge_method=S256 is required.");
    public static readonly ErrorDescriptor AuthorizeResponseTypeUnsupported = new("EMA3304", ErrorCodes.UnsupportedResponseType, BadRequest, "Only response_type=code is supported.");
    public static readonly ErrorDescriptor AuthorizeScopeInvalid = new("EMA3305", ErrorCodes.InvalidScope, BadRequest, "The openid scope is required.");
    public static readonly ErrorDescriptor AuthorizeLoginRequired = new("EMA3306", ErrorCodes.LoginRequired, BadRequest, "The user must sign in (prompt=none was requested).");
    public static readonly ErrorDescriptor AuthorizeRequestExpired = new("EMA3307", ErrorCodes.InvalidRequest, BadRequest, "The sign-in request has expired; start again from the application.");
    public static readonly ErrorDescriptor AuthorizeClientNotAllowed = new("EMA3308", ErrorCodes.UnauthorizedClient, BadRequest, "The client may not use the authorization code flow.");

    // ----- jwt-bearer at the authorization server, beyond the ID-JAG rules (decisions 9, 17) -----
    public static readonly ErrorDescriptor AccountNotProvisioned = new("EMA3401", ErrorCodes.InvalidGrant, BadRequest, "The user has no account here and this identity provider does not create accounts on first use.");
    public static readonly ErrorDescriptor ScopeBeyondGrant = new("EMA3402", ErrorCodes.InvalidScope, BadRequest, "The requested scope is not granted by the assertion.");

    // ----- Token revocation at the IdP (RFC 7009 §2.2, §2.2.1) -----
    public static readonly ErrorDescriptor RevocationTokenTypeUnsupported = new("EMA3501", ErrorCodes.UnsupportedTokenType, BadRequest, "Only refresh tokens are revoked here: access and ID tokens are short-lived and expire on their own (an administrator can end their session at once).");
    public static readonly ErrorDescriptor RevocationTokenOfAnotherClient = new("EMA3502", ErrorCodes.UnauthorizedClient, BadRequest, "The token was issued to another client; nothing was revoked.");
    public static readonly ErrorDescriptor RevocationUnavailable = new("EMA3503", ErrorCodes.TemporarilyUnavailable, 503, "The revocation could not be completed or recorded; assume the token is still valid and retry shortly.");

    /// <summary>Every descriptor declared above, for documentation checks and lookups by id.</summary>
    public static IReadOnlyList<ErrorDescriptor> All { get; } = typeof(ErrorIds)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.FieldType == typeof(ErrorDescriptor))
        .Select(f => (ErrorDescriptor)f.GetValue(null)!)
        .ToArray();
}
