namespace Ema.Protocol;

/// <summary>An RFC 7523 §2.1 JWT-bearer grant request redeeming an ID-JAG (ID-JAG draft §4.4).</summary>
public sealed record JwtBearerRequest
{
    /// <summary><c>assertion</c>: the ID-JAG.</summary>
    public required string Assertion { get; init; }

    /// <summary><c>scope</c> (optional narrowing, decision 9).</summary>
    public string? Scope { get; init; }

    /// <summary><c>resource</c> values (RFC 8707; decision 7).</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary>Reads a jwt-bearer request; a missing <c>assertion</c> is an <c>invalid_request</c> (RFC 7523 §2.1).</summary>
    public static JwtBearerRequestParseResult FromForm(FormParameters form)
    {
        ArgumentNullException.ThrowIfNull(form);
        var assertion = form[OAuthParameters.Assertion];
        if (assertion is null)
        {
            return new(null, TokenRequest.MissingParameter(OAuthParameters.Assertion));
        }

        return new(new JwtBearerRequest
        {
            Assertion = assertion,
            Scope = form[OAuthParameters.Scope],
            Resources = form.GetAll(OAuthParameters.Resource),
        }, null);
    }

    /// <summary>The form pairs of this request (client side), without client authentication.</summary>
    public IEnumerable<KeyValuePair<string, string>> ToFormPairs()
    {
        yield return new(OAuthParameters.GrantType, GrantTypes.JwtBearer);
        yield return new(OAuthParameters.Assertion, Assertion);
        if (Scope is not null)
        {
            yield return new(OAuthParameters.Scope, Scope);
        }

        foreach (var resource in Resources)
        {
            yield return new(OAuthParameters.Resource, resource);
        }
    }
}

/// <summary>Result of <see cref="JwtBearerRequest.FromForm"/>.</summary>
public readonly record struct JwtBearerRequestParseResult(JwtBearerRequest? Request, OAuthError? Error);
