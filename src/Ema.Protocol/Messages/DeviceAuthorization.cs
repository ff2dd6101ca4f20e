using System.Text.Json.Serialization;

namespace Ema.Protocol;

/// <summary>RFC 8628 §3.2 device authorization response.</summary>
public sealed record DeviceAuthorizationResponse
{
    [JsonPropertyName(OAuthParameters.DeviceCode)]
    public required string DeviceCode { get; init; }

    [JsonPropertyName(OAuthParameters.UserCode)]
    public required string UserCode { get; init; }

    [JsonPropertyName("verification_uri")]
    public required string VerificationUri { get; init; }

    [JsonPropertyName("verification_uri_complete")]
    public string? VerificationUriComplete { get; init; }

    [JsonPropertyName(OAuthParameters.ExpiresIn)]
    public required long ExpiresIn { get; init; }

    /// <summary>Seconds between polls (default 5, RFC 8628 §3.2).</summary>
    [JsonPropertyName("interval")]
    public long? Interval { get; init; }
}
