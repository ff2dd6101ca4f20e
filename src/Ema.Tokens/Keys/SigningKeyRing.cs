using Ema.Protocol;
using Ema.Tokens.Jose;

namespace Ema.Tokens.Keys;

/// <summary>Lifecycle state of a key in a <see cref="SigningKeyRing"/> (decision 18).</summary>
public enum SigningKeyStatus
{
    /// <summary>Published in the JWKS ahead of use, so verifiers already hold it when it starts signing.</summary>
    Next,

    /// <summary>Signs everything issued now.</summary>
    Current,

    /// <summary>No longer signs; stays published until every token it signed has expired.</summary>
    Retired,
}

/// <summary>A key and its lifecycle state.</summary>
public sealed record SigningKeyEntry(SigningKey Key, SigningKeyStatus Status, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt = null);

/// <summary>Options of a <see cref="SigningKeyRing"/>.</summary>
public sealed record SigningKeyRingOptions
{
    /// <summary>Algorithm of newly generated keys (ES256 by default; RS256 and PS256 may be configured; decision 4).</summary>
    public string Algorithm { get; init; } = SecurityAlgorithms.EcdsaSha256;

    /// <summary>How long a retired key stays in the JWKS; at least the longest lifetime of any token it signs.</summary>
    public TimeSpan RetiredKeyRetention { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>
/// An issuer's signing keys: one current key that signs, one next key published ahead of use, and retired keys kept
/// for verification until their tokens have expired. Also the key source for validating the issuer's own tokens.
/// </summary>
/// <remarks>
/// Reads are lock-free over an immutable snapshot; <see cref="Rotate"/> swaps the snapshot atomically. Persistence is the
/// caller's job: <see cref="Entries"/> is everything needed to rebuild the ring.
/// </remarks>
public sealed class SigningKeyRing : IIssuerKeySource
{
    private readonly SigningKeyRingOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _rotateLock = new();
    private State _state;

    /// <summary>Rebuilds a ring from stored entries: exactly one current key, at most one next key.</summary>
    public SigningKeyRing(IEnumerable<SigningKeyEntry> entries, SigningKeyRingOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _time = time;
        _state = State.Create([.. entries]);
    }

    /// <summary>Creates a ring with a freshly generated current key and next key.</summary>
    public static SigningKeyRing CreateNew(SigningKeyRingOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        var now = time.GetUtcNow();
        return new SigningKeyRing(
            [
                new SigningKeyEntry(SigningKey.Generate(options.Algorithm), SigningKeyStatus.Current, now),
                new SigningKeyEntry(SigningKey.Generate(options.Algorithm), SigningKeyStatus.Next, now),
            ],
            options,
            time);
    }

    /// <summary>The key that signs now.</summary>
    public SigningKey Current => Volatile.Read(ref _state).Current;

    /// <summary>The key published ahead of use.</summary>
    public SigningKey? Next => Volatile.Read(ref _state).Next;

    /// <summary>Every key with its state (for persistence).</summary>
    public IReadOnlyList<SigningKeyEntry> Entries => Volatile.Read(ref _state).Entries;

    /// <summary>The public JWKS: next, current and retired keys still within retention.</summary>
    public JsonWebKeySetDocument Jwks => Volatile.Read(ref _state).Jwks;

    /// <summary>
    /// Promotes the next key to current, retires the current key, generates a new next key and drops retired keys past
    /// retention. Returns the new entries (persist them).
    /// </summary>
    public IReadOnlyList<SigningKeyEntry> Rotate()
    {
        lock (_rotateLock)
        {
            var entries = ProposeRotation();
            Adopt(entries);
            return entries;
        }
    }

    /// <summary>
    /// The entries <see cref="Rotate"/> would produce, without changing the ring: a caller that must store them first
    /// (and may fail to) adopts them with <see cref="Adopt"/> only once they are stored, so the ring never signs with a
    /// key the database does not hold.
    /// </summary>
    public IReadOnlyList<SigningKeyEntry> ProposeRotation()
    {
        var now = _time.GetUtcNow();
        var old = Volatile.Read(ref _state);
        var entries = new List<SigningKeyEntry>();
        foreach (var entry in old.Entries)
        {
            switch (entry.Status)
            {
                case SigningKeyStatus.Next:
                    entries.Add(entry with { Status = SigningKeyStatus.Current });
                    break;
                case SigningKeyStatus.Current:
                    entries.Add(entry with { Status = SigningKeyStatus.Retired, RetiredAt = now });
                    break;
                case SigningKeyStatus.Retired when now - entry.RetiredAt < _options.RetiredKeyRetention:
                    entries.Add(entry);
                    break;
            }
        }

        if (old.Next is null)
        {
            // No key was published ahead: promote a new one directly (verifiers refetch on the unknown kid).
            entries.Add(new SigningKeyEntry(SigningKey.Generate(_options.Algorithm), SigningKeyStatus.Current, now));
        }

        entries.Add(new SigningKeyEntry(SigningKey.Generate(_options.Algorithm), SigningKeyStatus.Next, now));
        return State.Create(entries).Entries;
    }

    /// <summary>Puts <paramref name="entries"/> (from <see cref="ProposeRotation"/>, stored) in force, atomically for readers.</summary>
    public void Adopt(IReadOnlyList<SigningKeyEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        Volatile.Write(ref _state, State.Create([.. entries]));
    }

    /// <inheritdoc />
    public ValueTask<KeyLookupResult> FindKeyAsync(string? keyId, JwsAlgorithm algorithm, CancellationToken cancellationToken) =>
        ValueTask.FromResult(KeyLookupResult.Select(Volatile.Read(ref _state).PublishedKeys, keyId, algorithm));

    private sealed class State
    {
        private State(IReadOnlyList<SigningKeyEntry> entries, SigningKey current, SigningKey? next)
        {
            Entries = entries;
            Current = current;
            Next = next;
            PublishedKeys = [.. entries.Select(e => e.Key.PublicKey)];
            Jwks = new JsonWebKeySetDocument { Keys = [.. PublishedKeys.Select(k => k.Jwk)] };
        }

        public IReadOnlyList<SigningKeyEntry> Entries { get; }

        public SigningKey Current { get; }

        public SigningKey? Next { get; }

        public IReadOnlyList<VerificationKey> PublishedKeys { get; }

        public JsonWebKeySetDocument Jwks { get; }

        public static State Create(IReadOnlyList<SigningKeyEntry> entries)
        {
            var current = entries.Where(e => e.Status == SigningKeyStatus.Current).ToList();
            var next = entries.Where(e => e.Status == SigningKeyStatus.Next).ToList();
            if (current.Count != 1 || next.Count > 1)
            {
                throw new ArgumentException("A key ring needs exactly one current key and at most one next key.", nameof(entries));
            }

            if (entries.Select(e => e.Key.KeyId).Distinct(StringComparer.Ordinal).Count() != entries.Count)
            {
                throw new ArgumentException("Key ids in a key ring must be unique.", nameof(entries));
            }

            return new State(entries, current[0].Key, next.Count == 1 ? next[0].Key : null);
        }
    }
}
