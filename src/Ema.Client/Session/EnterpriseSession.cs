using System.Text.Json.Serialization;

namespace Ema.Client.Session;

/// <summary>
/// The result of signing in once: the ID token that every token exchange presents, the IdP access token for the
/// catalog, and the refresh token that renews both. Held encrypted at rest by <see cref="EnterpriseSessionStore"/>.
/// </summary>
public sealed record EnterpriseSession
{
    [JsonPropertyName("issuer")]
    public required string Issuer { get; init; }

    [JsonPropertyName("client_id")]
    public required string ClientId { get; init; }

    [JsonPropertyName("sub")]
    public required string Subject { get; init; }

    [JsonPropertyName("name")]
    public string? Name { get; init; }

    [JsonPropertyName("username")]
    public string? Username { get; init; }

    [JsonPropertyName("id_token")]
    public required string IdToken { get; init; }

    [JsonPropertyName("id_token_expires_at")]
    public required DateTimeOffset IdTokenExpiresAt { get; init; }

    [JsonPropertyName("access_token")]
    public string? AccessToken { get; init; }

    [JsonPropertyName("access_token_expires_at")]
    public DateTimeOffset? AccessTokenExpiresAt { get; init; }

    [JsonPropertyName("refresh_token")]
    public string? RefreshToken { get; init; }

    [JsonPropertyName("auth_time")]
    public DateTimeOffset? AuthTime { get; init; }

    [JsonPropertyName("signed_in_at")]
    public required DateTimeOffset SignedInAt { get; init; }

    /// <summary>Never print tokens (records print their members by default).</summary>
    public override string ToString() => $"session of {Username ?? Subject} at {Issuer}";
}

[JsonSerializable(typeof(EnterpriseSession))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class ClientJsonContext : JsonSerializerContext;
