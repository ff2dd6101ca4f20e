using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ema.Tokens.Replay;

/// <summary>Options of <see cref="InMemoryReplayCache"/>.</summary>
public sealed record InMemoryReplayCacheOptions
{
    /// <summary>Most live entries; beyond it the cache fails closed (never evicts a live entry, which would allow a replay).</summary>
    public int MaxEntries { get; init; } = 2_000_000;

    /// <summary>How often expired entries are swept (amortized over inserts; no timer).</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// A process-local replay cache: atomic through <see cref="ConcurrentDictionary{TKey,TValue}"/>, entries expire, memory
/// bounded. Keys are a 128-bit hash of (issuer, jti), so an entry costs the same whatever the jti's length.
/// </summary>
/// <remarks>For several authorization-server instances or restarts, use a store-backed cache (the database one).</remarks>
public sealed class InMemoryReplayCache : IReplayCache
{
    private readonly ConcurrentDictionary<ReplayKey, long> _entries = new();
    private readonly InMemoryReplayCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _sweepLock = new();
    private long _nextSweepTicks;

    // ConcurrentDictionary.Count takes every internal lock; the capacity check uses this counter instead.
    private int _count;

    /// <summary>Creates the cache.</summary>
    public InMemoryReplayCache(TimeProvider time, InMemoryReplayCacheOptions? options = null, ILogger<InMemoryReplayCache>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _options = options ?? new InMemoryReplayCacheOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _nextSweepTicks = time.GetUtcNow().UtcTicks + _options.SweepInterval.Ticks;
    }

    /// <summary>Live and not-yet-swept entries.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <inheritdoc />
    public ValueTask<ReplayCheckResult> TryAddAsync(string issuer, string jwtId, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        ArgumentNullException.ThrowIfNull(jwtId);
        var now = _time.GetUtcNow().UtcTicks;
        SweepIfDue(now);

        var key = ReplayKey.Create(issuer, jwtId);
        var expiry = expiresAt.UtcTicks;
        while (true)
        {
            if (_entries.TryGetValue(key, out var existing))
            {
                if (existing > now)
                {
                    return ValueTask.FromResult(ReplayCheckResult.Replayed);
                }

                // Expired entry not yet swept: take it over atomically; a racing caller loses the compare.
                if (_entries.TryUpdate(key, expiry, existing))
                {
                    return ValueTask.FromResult(ReplayCheckResult.Accepted);
                }

                continue;
            }

            if (Volatile.Read(ref _count) >= _options.MaxEntries)
            {
                Log.ReplayCacheFull(_logger, Volatile.Read(ref _count));
                return ValueTask.FromResult(ReplayCheckResult.Unavailable);
            }

            if (_entries.TryAdd(key, expiry))
            {
                Interlocked.Increment(ref _count);
                return ValueTask.FromResult(ReplayCheckResult.Accepted);
            }
        }
    }

    private void SweepIfDue(long now)
    {
        if (now < Volatile.Read(ref _nextSweepTicks) || !_sweepLock.TryEnter())
        {
            return;
        }

        try
        {
            _nextSweepTicks = now + _options.SweepInterval.Ticks;
            foreach (var (key, expiry) in _entries)
            {
                if (expiry <= now)
                {
                    // Remove only if still the expired value (a concurrent take-over keeps its fresh entry).
                    if (_entries.TryRemove(new KeyValuePair<ReplayKey, long>(key, expiry)))
                    {
                        Interlocked.Decrement(ref _count);
                    }
                }
            }
        }
        finally
        {
            _sweepLock.Exit();
        }
    }

    private readonly record struct ReplayKey(ulong High, ulong Low)
    {
        public static ReplayKey Create(string issuer, string jwtId)
        {
            var length = Encoding.UTF8.GetByteCount(issuer) + 1 + Encoding.UTF8.GetByteCount(jwtId);
            var buffer = length <= 1024 ? stackalloc byte[length] : new byte[length];
            var written = Encoding.UTF8.GetBytes(issuer, buffer);
            buffer[written] = 0; // separator: ("ab","c") and ("a","bc") differ
            Encoding.UTF8.GetBytes(jwtId, buffer[(written + 1)..]);
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(buffer, hash);
            return new ReplayKey(BitConverter.ToUInt64(hash), BitConverter.ToUInt64(hash[8..]));
        }
    }
}
