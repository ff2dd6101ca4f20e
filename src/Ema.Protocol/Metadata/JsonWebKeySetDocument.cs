using System.Text.Json.Serialization;

namespace Ema.Protocol;

/// <summary>RFC 7517 §5 JWK Set document (public keys only).</summary>
public sealed record JsonWebKeySetDocument
{
    [JsonPropertyName(JsonWebKeyNames.Keys)]
    public required IReadOnlyList<JsonWebKeyDocument> Keys { get; init; }
}

/// <summary>RFC 7517 §4 public JSON Web Key (EC or RSA members, RFC 7518 §6).</summary>
public sealed record JsonWebKeyDocument
{
    [JsonPropertyName(JsonWebKeyNames.KeyType)]
    public required string KeyType { get; init; }

    [JsonPropertyName(JsonWebKeyNames.Use)]
    public string? Use { get; init; }

    [JsonPropertyName(JsonWebKeyNames.KeyId)]
    public string? KeyId { get; init; }

    [JsonPropertyName(JsonWebKeyNames.Algorithm)]
    public string? Algorithm { get; init; }

    [JsonPropertyName(JsonWebKeyNames.Curve)]
    public string? Curve { get; init; }

    [JsonPropertyName(JsonWebKeyNames.X)]
    public string? X { get; init; }

    [JsonPropertyName(JsonWebKeyNames.Y)]
    public string? Y { get; init; }

    [JsonPropertyName(JsonWebKeyNames.Modulus)]
    public string? N { get; init; }

    [JsonPropertyName(JsonWebKeyNames.Exponent)]
    public string? E { get; init; }
}
