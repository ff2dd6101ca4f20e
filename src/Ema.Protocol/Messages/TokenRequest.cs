namespace Ema.Protocol;

/// <summary>
/// The grant-independent part of a token request (RFC 6749 §3.2): grant type, client credentials sent in the body,
/// and the full parameter set for the grant handler.
/// </summary>
public sealed record TokenRequest
{
    /// <summary><c>grant_type</c>.</summary>
    public required string GrantType { get; init; }

    /// <summary><c>client_id</c> in the body (client_secret_post, public clients).</summary>
    public string? ClientId { get; init; }

    /// <summary><c>client_secret</c> in the body (client_secret_post).</summary>
    public string? ClientSecret { get; init; }

    /// <summary><c>client_assertion</c> (RFC 7523 §2.2).</summary>
    public string? ClientAssertion { get; init; }

    /// <summary><c>client_assertion_type</c> (RFC 7523 §2.2).</summary>
    public string? ClientAssertionType { get; init; }

    /// <summary>All parameters, for the grant handler.</summary>
    public required FormParameters Parameters { get; init; }

    /// <summary>Reads the common members; a missing <c>grant_type</c> is an <c>invalid_request</c> (RFC 6749 §5.2).</summary>
    public static TokenRequestParseResult FromForm(FormParameters form)
    {
        ArgumentNullException.ThrowIfNull(form);
        var grantType = form[OAuthParameters.GrantType];
        if (grantType is null)
        {
            return new(null, MissingParameter(OAuthParameters.GrantType));
        }

        return new(WithClientCredentials(form, grantType), null);
    }

    /// <summary>
    /// The client-authentication members of a form posted to an endpoint that authenticates clients as the token
    /// endpoint does (device authorization, RFC 8628 §3.1; revocation, RFC 7009 §2.1), under <paramref name="grantType"/>.
    /// </summary>
    public static TokenRequest WithClientCredentials(FormParameters form, string grantType)
    {
        ArgumentNullException.ThrowIfNull(form);
        return new TokenRequest
        {
            GrantType = grantType,
            ClientId = form[OAuthParameters.ClientId],
            ClientSecret = form[OAuthParameters.ClientSecret],
            ClientAssertion = form[OAuthParameters.ClientAssertion],
            ClientAssertionType = form[OAuthParameters.ClientAssertionType],
            Parameters = form,
        };
    }

    /// <summary>The error for a missing required parameter, naming it.</summary>
    public static OAuthError MissingParameter(string name) =>
        OAuthError.From(ErrorIds.MissingParameter, $"The request parameter '{name}' is required.", null);
}

/// <summary>Result of <see cref="TokenRequest.FromForm"/>.</summary>
public readonly record struct TokenRequestParseResult(TokenRequest? Request, OAuthError? Error);
