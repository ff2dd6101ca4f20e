namespace Ema.Protocol;

/// <summary>
/// One OAuth error: the single typed value every failure path returns (style rule 2). It is rendered to
/// RFC 6749 §5.2 JSON or an RFC 6750 §3 challenge in exactly one place per host.
/// </summary>
/// <remarks>
/// <see cref="Debug"/> is private detail for logs and tests only; it is never sent to the caller and must never
/// contain a token, secret or password (log the <c>jti</c> instead).
/// </remarks>
public sealed record OAuthError
{
    private OAuthError(ErrorDescriptor descriptor, string description, string? debug)
    {
        Descriptor = descriptor;
        Description = description;
        Debug = debug;
    }

    /// <summary>The stable id, code and status this error carries.</summary>
    public ErrorDescriptor Descriptor { get; }

    /// <summary>RFC 6749 §5.2 <c>error</c>.</summary>
    public string Code => Descriptor.Code;

    /// <summary>Stable Ema error id (for example <c>EMA2104</c>).</summary>
    public string ErrorId => Descriptor.Id;

    /// <summary>HTTP status code of the response.</summary>
    public int StatusCode => Descriptor.StatusCode;

    /// <summary>RFC 6749 §5.2 <c>error_description</c>: human readable, safe to show.</summary>
    public string Description { get; init; }

    /// <summary>Optional explicit <c>error_uri</c>; when null the host derives one from <see cref="ErrorId"/>.</summary>
    public Uri? Uri { get; init; }

    /// <summary>Private diagnostic detail (never sent on the wire).</summary>
    public string? Debug { get; init; }

    /// <summary>Decision id of a policy refusal (decision 10, <c>ema_decision_id</c>).</summary>
    public string? DecisionId { get; init; }

    /// <summary><c>max_age</c> member of an <c>insufficient_user_authentication</c> error (ID-JAG step-up).</summary>
    public int? MaxAge { get; init; }

    /// <summary><c>acr_values</c> member of an <c>insufficient_user_authentication</c> error (ID-JAG step-up).</summary>
    public string? AcrValues { get; init; }

    /// <summary>Scopes named in an RFC 6750 <c>insufficient_scope</c> challenge.</summary>
    public string? Scope { get; init; }

    /// <summary>Creates an error from its descriptor, with the descriptor's default description.</summary>
    public static OAuthError From(ErrorDescriptor descriptor, string? debug = null)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        return new OAuthError(descriptor, descriptor.Description, debug);
    }

    /// <summary>Creates an error from its descriptor with a more specific (still safe to show) description.</summary>
    public static OAuthError From(ErrorDescriptor descriptor, string description, string? debug)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        return new OAuthError(descriptor, description, debug);
    }

    /// <summary><c>invalid_request</c> with a specific description (RFC 6749 §5.2).</summary>
    public static OAuthError InvalidRequest(string description, string? debug = null) =>
        From(ErrorIds.InvalidRequest, description, debug);

    /// <summary><c>invalid_client</c> (RFC 6749 §5.2, HTTP 401).</summary>
    public static OAuthError InvalidClient(string description, string? debug = null) =>
        From(ErrorIds.InvalidClient, description, debug);

    /// <summary><c>invalid_grant</c> (RFC 6749 §5.2, RFC 7523 §3.1).</summary>
    public static OAuthError InvalidGrant(string description, string? debug = null) =>
        From(ErrorIds.InvalidGrant, description, debug);

    /// <summary><c>unauthorized_client</c> (RFC 6749 §5.2).</summary>
    public static OAuthError UnauthorizedClient(string description, string? debug = null) =>
        From(ErrorIds.UnauthorizedClient, description, debug);

    /// <summary><c>unsupported_grant_type</c> (RFC 6749 §5.2).</summary>
    public static OAuthError UnsupportedGrantType(string description, string? debug = null) =>
        From(ErrorIds.UnsupportedGrantType, description, debug);

    /// <summary><c>invalid_scope</c> (RFC 6749 §5.2).</summary>
    public static OAuthError InvalidScope(string description, string? debug = null) =>
        From(ErrorIds.InvalidScope, description, debug);

    /// <summary><c>invalid_target</c> (RFC 8707 §2, RFC 8693 §2.2.2).</summary>
    public static OAuthError InvalidTarget(string description, string? debug = null) =>
        From(ErrorIds.InvalidTarget, description, debug);

    /// <summary><c>invalid_token</c> for resource servers (RFC 6750 §3.1, HTTP 401).</summary>
    public static OAuthError InvalidToken(string description, string? debug = null) =>
        From(ErrorIds.InvalidToken, description, debug);

    /// <summary><c>insufficient_scope</c> for resource servers (RFC 6750 §3.1, HTTP 403).</summary>
    public static OAuthError InsufficientScope(string requiredScope, string? debug = null) =>
        From(ErrorIds.InsufficientScope, "The access token does not carry the scope this operation needs.", debug) with { Scope = requiredScope };

    /// <summary><c>insufficient_user_authentication</c>: a stronger or fresher sign-in would satisfy policy (ID-JAG step-up).</summary>
    public static OAuthError InsufficientUserAuthentication(string description, int? maxAge, string? acrValues, string? debug = null) =>
        From(ErrorIds.InsufficientUserAuthentication, description, debug) with { MaxAge = maxAge, AcrValues = acrValues };

    /// <summary><c>server_error</c>: an unexpected failure; details go to <see cref="Debug"/> only.</summary>
    public static OAuthError ServerError(string? debug = null) => From(ErrorIds.ServerError, debug);

    /// <summary>Renders the safe, public part of this error as the RFC 6749 §5.2 response document.</summary>
    /// <param name="errorDocumentationBase">When given, <c>error_uri</c> becomes <c>{base}#{id}</c> unless <see cref="Uri"/> is set.</param>
    public OAuthErrorResponse ToResponse(Uri? errorDocumentationBase = null)
    {
        var uri = Uri?.AbsoluteUri
            ?? (errorDocumentationBase is null ? null : errorDocumentationBase.AbsoluteUri + "#" + ErrorId.ToLowerInvariant());
        return new OAuthErrorResponse
        {
            Error = Code,
            ErrorDescription = Description,
            ErrorUri = uri,
            EmaErrorId = ErrorId,
            EmaDecisionId = DecisionId,
            MaxAge = MaxAge,
            AcrValues = AcrValues,
        };
    }

    /// <inheritdoc />
    public override string ToString() => $"{Code} ({ErrorId}): {Description}";
}
