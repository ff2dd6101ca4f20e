namespace Ema.Protocol;

/// <summary>
/// An RFC 8693 §2.1 token-exchange request asking the enterprise IdP for an ID-JAG (ID-JAG draft §4.3).
/// </summary>
public sealed record TokenExchangeRequest
{
    /// <summary><c>requested_token_type</c>; for EMA always <see cref="TokenTypes.IdJag"/>.</summary>
    public required string RequestedTokenType { get; init; }

    /// <summary><c>subject_token</c>: the ID token, SAML assertion or IdP refresh token.</summary>
    public required string SubjectToken { get; init; }

    /// <summary><c>subject_token_type</c>.</summary>
    public required string SubjectTokenType { get; init; }

    /// <summary><c>audience</c>: the issuer of the MCP server's authorization server.</summary>
    public IReadOnlyList<string> Audiences { get; init; } = [];

    /// <summary><c>resource</c>: the MCP server's RFC 9728 resource identifier.</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary><c>scope</c> (space-separated).</summary>
    public string? Scope { get; init; }

    /// <summary><c>actor_token</c> (not used by EMA, see ID-JAG draft §4.3).</summary>
    public string? ActorToken { get; init; }

    /// <summary><c>actor_token_type</c>.</summary>
    public string? ActorTokenType { get; init; }

    /// <summary><c>authorization_details</c> (RFC 9396), as received.</summary>
    public string? AuthorizationDetails { get; init; }

    /// <summary>Reads a token-exchange request; the three RFC 8693 §2.1 REQUIRED parameters must be present.</summary>
    public static TokenExchangeRequestParseResult FromForm(FormParameters form)
    {
        ArgumentNullException.ThrowIfNull(form);
        foreach (var required in new[] { OAuthParameters.SubjectToken, OAuthParameters.SubjectTokenType, OAuthParameters.RequestedTokenType })
        {
            if (form[required] is null)
            {
                return new(null, TokenRequest.MissingParameter(required));
            }
        }

        return new(new TokenExchangeRequest
        {
            RequestedTokenType = form[OAuthParameters.RequestedTokenType]!,
            SubjectToken = form[OAuthParameters.SubjectToken]!,
            SubjectTokenType = form[OAuthParameters.SubjectTokenType]!,
            Audiences = form.GetAll(OAuthParameters.Audience),
            Resources = form.GetAll(OAuthParameters.Resource),
            Scope = form[OAuthParameters.Scope],
            ActorToken = form[OAuthParameters.ActorToken],
            ActorTokenType = form[OAuthParameters.ActorTokenType],
            AuthorizationDetails = form[OAuthParameters.AuthorizationDetails],
        }, null);
    }

    /// <summary>The form pairs of this request (client side), without client authentication.</summary>
    public IEnumerable<KeyValuePair<string, string>> ToFormPairs()
    {
        yield return new(OAuthParameters.GrantType, GrantTypes.TokenExchange);
        yield return new(OAuthParameters.RequestedTokenType, RequestedTokenType);
        foreach (var audience in Audiences)
        {
            yield return new(OAuthParameters.Audience, audience);
        }

        foreach (var resource in Resources)
        {
            yield return new(OAuthParameters.Resource, resource);
        }

        if (Scope is not null)
        {
            yield return new(OAuthParameters.Scope, Scope);
        }

        yield return new(OAuthParameters.SubjectToken, SubjectToken);
        yield return new(OAuthParameters.SubjectTokenType, SubjectTokenType);
    }
}

/// <summary>Result of <see cref="TokenExchangeRequest.FromForm"/>.</summary>
public readonly record struct TokenExchangeRequestParseResult(TokenExchangeRequest? Request, OAuthError? Error);
