using Ema.Tokens.Jose;

namespace Ema.Tokens.Keys;

/// <summary>
/// The keys of exactly one issuer. A validator only ever asks the source that belongs to the token's (already
/// trusted) issuer, so a key of another issuer can never verify a token (RFC 7523 §3 item 9; decision 4).
/// </summary>
public interface IIssuerKeySource
{
    /// <summary>Finds the key for <paramref name="keyId"/> able to verify <paramref name="algorithm"/>.</summary>
    /// <remarks>Implementations must not throw for unknown keys or fetch failures; they report them in the result.</remarks>
    ValueTask<KeyLookupResult> FindKeyAsync(string? keyId, JwsAlgorithm algorithm, CancellationToken cancellationToken);
}

/// <summary>Outcome of a key lookup.</summary>
public enum KeyLookupStatus
{
    /// <summary>A compatible key was found.</summary>
    Found,

    /// <summary>No key with that id (or, without an id, not exactly one compatible key).</summary>
    NotFound,

    /// <summary>The key exists but cannot verify the requested algorithm.</summary>
    AlgorithmMismatch,

    /// <summary>The issuer's keys could not be obtained.</summary>
    Unavailable,
}

/// <summary>Result of <see cref="IIssuerKeySource.FindKeyAsync"/>.</summary>
public readonly record struct KeyLookupResult(VerificationKey? Key, KeyLookupStatus Status, string? Debug)
{
    internal static KeyLookupResult Select(IReadOnlyList<VerificationKey> keys, string? keyId, JwsAlgorithm algorithm)
    {
        if (keyId is not null)
        {
            foreach (var key in keys)
            {
                if (string.Equals(key.KeyId, keyId, StringComparison.Ordinal))
                {
                    return key.IsCompatibleWith(algorithm)
                        ? new(key, KeyLookupStatus.Found, null)
                        : new(null, KeyLookupStatus.AlgorithmMismatch, $"kid={keyId} cannot verify {algorithm.Name}");
                }
            }

            return new(null, KeyLookupStatus.NotFound, $"kid={keyId}");
        }

        // Without a kid, accept only an unambiguous key: trying every key would let one token cost many verifications.
        VerificationKey? only = null;
        foreach (var key in keys)
        {
            if (key.IsCompatibleWith(algorithm))
            {
                if (only is not null)
                {
                    return new(null, KeyLookupStatus.NotFound, "no kid and several compatible keys");
                }

                only = key;
            }
        }

        return only is null
            ? new(null, KeyLookupStatus.NotFound, "no kid and no compatible key")
            : new(only, KeyLookupStatus.Found, null);
    }
}
