using System.Collections.Concurrent;

namespace Ema.Server.Stores.Caching;

/// <summary>
/// A small read-through cache with a time-to-live (from <see cref="TimeProvider"/>) and explicit invalidation. Misses
/// (null results) are cached too, so unknown ids cost one lookup per TTL, not one per request.
/// </summary>
internal sealed class TtlCache<TKey, TValue>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Entry> _entries;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;
    private readonly int _maxEntries;
    private long _generation;

    public TtlCache(TimeProvider time, TimeSpan ttl, IEqualityComparer<TKey>? comparer = null, int maxEntries = 100_000)
    {
        _time = time;
        _ttl = ttl;
        _maxEntries = maxEntries;
        _entries = new ConcurrentDictionary<TKey, Entry>(comparer);
    }

    private sealed record Entry(TValue Value, long ExpiresAtTicks, long Generation);

    public async Task<TValue> GetAsync(TKey key, Func<TKey, Task<TValue>> load)
    {
        var now = _time.GetUtcNow().UtcTicks;
        var generation = Volatile.Read(ref _generation);
        if (_entries.TryGetValue(key, out var entry) && entry.ExpiresAtTicks > now && entry.Generation == generation)
        {
            return entry.Value;
        }

        var value = await load(key).ConfigureAwait(false);

        // A value loaded across an invalidation is not cached: it may predate the write.
        if (Volatile.Read(ref _generation) == generation)
        {
            if (_entries.Count >= _maxEntries)
            {
                _entries.Clear();
            }

            _entries[key] = new Entry(value, now + _ttl.Ticks, generation);
        }

        return value;
    }

    public void Invalidate(TKey key)
    {
        Interlocked.Increment(ref _generation);
        _entries.TryRemove(key, out _);
    }

    public void InvalidateAll()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }
}
