using System.Text.Json.Serialization;

namespace Ema.Protocol;

/// <summary>RFC 8693 §2.2.1 token-exchange response carrying an ID-JAG (ID-JAG draft §4.3.4).</summary>
public sealed record TokenExchangeResponse
{
    /// <summary>The ID-JAG (RFC 8693 reuses the <c>access_token</c> member for any issued token).</summary>
    [JsonPropertyName(OAuthParameters.AccessToken)]
    public required string AccessToken { get; init; }

    /// <summary>Always <see cref="TokenTypes.IdJag"/> for EMA.</summary>
    [JsonPropertyName(OAuthParameters.IssuedTokenType)]
    public required string IssuedTokenType { get; init; }

    /// <summary><c>N_A</c>: the ID-JAG is not an access token (RFC 8693 §2.2.1; decision 12).</summary>
    [JsonPropertyName(OAuthParameters.TokenType)]
    public string? TokenType { get; init; } = TokenTypes.NotApplicable;

    /// <summary>Lifetime of the ID-JAG in seconds.</summary>
    [JsonPropertyName(OAuthParameters.ExpiresIn)]
    public long? ExpiresIn { get; init; }

    /// <summary>Granted scope (required when it differs from the request).</summary>
    [JsonPropertyName(OAuthParameters.Scope)]
    public string? Scope { get; init; }
}

/// <summary>RFC 6749 §5.1 access-token response (also the OIDC token response).</summary>
public sealed record AccessTokenResponse
{
    [JsonPropertyName(OAuthParameters.AccessToken)]
    public required string AccessToken { get; init; }

    [JsonPropertyName(OAuthParameters.TokenType)]
    public string TokenType { get; init; } = TokenTypes.Bearer;

    [JsonPropertyName(OAuthParameters.ExpiresIn)]
    public long? ExpiresIn { get; init; }

    [JsonPropertyName(OAuthParameters.Scope)]
    public string? Scope { get; init; }

    [JsonPropertyName(OAuthParameters.RefreshToken)]
    public string? RefreshToken { get; init; }

    [JsonPropertyName(OAuthParameters.IdToken)]
    public string? IdToken { get; init; }

    /// <summary>Granted resource (ID-JAG draft §4.4.1).</summary>
    [JsonPropertyName(OAuthParameters.Resource)]
    public string? Resource { get; init; }
}

/// <summary>RFC 6749 §5.2 error response, with Ema's documented extension members.</summary>
public sealed record OAuthErrorResponse
{
    [JsonPropertyName(OAuthParameters.Error)]
    public required string Error { get; init; }

    [JsonPropertyName(OAuthParameters.ErrorDescription)]
    public string? ErrorDescription { get; init; }

    [JsonPropertyName(OAuthParameters.ErrorUri)]
    public string? ErrorUri { get; init; }

    /// <summary>Stable Ema error id (extension).</summary>
    [JsonPropertyName(OAuthParameters.EmaErrorId)]
    public string? EmaErrorId { get; init; }

    /// <summary>Policy decision id (extension, decision 10).</summary>
    [JsonPropertyName(OAuthParameters.EmaDecisionId)]
    public string? EmaDecisionId { get; init; }

    /// <summary>Step-up: maximum authentication age in seconds (ID-JAG draft step-up).</summary>
    [JsonPropertyName(OAuthParameters.MaxAge)]
    public int? MaxAge { get; init; }

    /// <summary>Step-up: space-separated ACR values (ID-JAG draft step-up).</summary>
    [JsonPropertyName(OAuthParameters.AcrValues)]
    public string? AcrValues { get; init; }
}
