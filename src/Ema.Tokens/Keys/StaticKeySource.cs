using Ema.Tokens.Jose;

namespace Ema.Tokens.Keys;

/// <summary>A fixed set of keys, for issuers configured with an inline JWKS.</summary>
public sealed class StaticKeySource : IIssuerKeySource
{
    private readonly VerificationKey[] _keys;

    /// <summary>Creates a source over <paramref name="keys"/>.</summary>
    public StaticKeySource(IEnumerable<VerificationKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        _keys = [.. keys];
    }

    /// <summary>The keys.</summary>
    public IReadOnlyList<VerificationKey> Keys => _keys;

    /// <summary>Parses an inline JWKS document; throws <see cref="FormatException"/> for a document with no usable key.</summary>
    public static StaticKeySource FromJwks(string json)
    {
        var parsed = JwksParser.Parse(System.Text.Encoding.UTF8.GetBytes(json));
        return parsed.Keys.Count > 0
            ? new StaticKeySource(parsed.Keys)
            : throw new FormatException($"The JWKS contains no usable signing key ({parsed.Debug}).");
    }

    /// <inheritdoc />
    public ValueTask<KeyLookupResult> FindKeyAsync(string? keyId, JwsAlgorithm algorithm, CancellationToken cancellationToken) =>
        ValueTask.FromResult(KeyLookupResult.Select(_keys, keyId, algorithm));
}
