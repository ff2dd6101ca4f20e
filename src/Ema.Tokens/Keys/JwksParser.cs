using System.Text.Json;
using Ema.Protocol;

namespace Ema.Tokens.Keys;

/// <summary>Parses RFC 7517 §5 JWK Set documents into verification keys, skipping keys Ema cannot or must not use.</summary>
public static class JwksParser
{
    /// <summary>Result: the usable keys and a short note on what was skipped.</summary>
    public readonly record struct JwksParseResult(IReadOnlyList<VerificationKey> Keys, bool IsDocumentValid, string? Debug);

    /// <summary>Parses a JWKS; never throws for bad input.</summary>
    public static JwksParseResult Parse(ReadOnlySpan<byte> json)
    {
        JsonWebKeySetDocument? document;
        try
        {
            var reader = new Utf8JsonReader(json);
            document = JsonSerializer.Deserialize(ref reader, EmaJsonContext.Default.JsonWebKeySetDocument);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NotSupportedException)
        {
            return new([], false, "not a JWK Set document");
        }

        if (document?.Keys is null)
        {
            return new([], false, "no keys member");
        }

        var keys = new List<VerificationKey>(document.Keys.Count);
        var skipped = 0;
        foreach (var jwk in document.Keys)
        {
            if (jwk is not null && VerificationKey.TryFromJwk(jwk, out var key, out _))
            {
                keys.Add(key);
            }
            else
            {
                skipped++;
            }
        }

        // A kid that appears twice is ambiguous: neither copy is used.
        var duplicates = keys.GroupBy(k => k.KeyId, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        skipped += keys.RemoveAll(k => duplicates.Contains(k.KeyId));
        return new(keys, true, skipped == 0 ? null : $"skipped {skipped} unusable or duplicate keys");
    }
}
