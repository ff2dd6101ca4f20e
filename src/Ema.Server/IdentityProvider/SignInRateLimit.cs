using System.Net;
using System.Net.Sockets;

namespace Ema.Server.IdentityProvider;

/// <summary>
/// At most N sign-in attempts per client address per minute, counted before the password is checked — whatever the
/// usernames. Per-user lockout stops guessing one account's password; it does nothing against password spraying (one
/// likely password tried once against every account), which this does. An attempt whose password was right is given
/// back, so the limit counts guesses, not a busy office's sign-ins. In memory, per IdP instance, in fixed one-minute
/// windows on the injected clock.
/// </summary>
/// <remarks>
/// <para>IPv4 addresses count one by one. An IPv6 client can use every address of its /64 — often of its /48 — so IPv6
/// counts per /64 (N) and per /48 (4 N) at once.</para>
/// <para>Addresses are what Kestrel sees, or what a trusted proxy forwarded (<c>Ema:TrustedProxies</c>): behind a proxy
/// that is not trusted, every user shares the proxy's address. A request with no address counts as one shared client.</para>
/// <para>Bounded: at <c>capacity</c> clients, the windows that ended are forgotten, oldest first (a queue in window
/// order, so each attempt costs O(1)); while every tracked window is live, new clients share one overflow count — under
/// a flood of fresh addresses sign-ins slow down, they are never let through unlimited.</para>
/// </remarks>
public sealed class SignInRateLimit(TimeProvider time, int attemptsPerMinute, int capacity = SignInRateLimit.DefaultCapacity)
{
    /// <summary>How many clients are tracked at most.</summary>
    public const int DefaultCapacity = 100_000;

    private const string Overflow = "(overflow)";
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _clients = new(StringComparer.Ordinal);
    private readonly Queue<(string Key, DateTimeOffset Start)> _byStart = new();

    /// <summary>Where an attempt stands.</summary>
    public readonly record struct Decision(bool Allowed, TimeSpan RetryAfter, bool FirstRefusal);

    /// <summary>
    /// Counts an attempt from <paramref name="address"/>. Refused once a limit is reached, with when to try again and
    /// whether it is the first refusal of the window (only that one is worth an audit record).
    /// </summary>
    public Decision TryAcquire(string? address)
    {
        if (attemptsPerMinute <= 0)
        {
            return new(true, TimeSpan.Zero, false); // off
        }

        var now = time.GetUtcNow();
        lock (_lock)
        {
            Expire(now);
            var buckets = Buckets(address);
            foreach (var (key, limit) in buckets)
            {
                var entry = Current(key, now);
                if (entry.Count >= limit)
                {
                    var first = !entry.Refused;
                    entry.Refused = true;
                    return new(false, entry.Start + Window - now, first);
                }
            }

            foreach (var (key, _) in buckets)
            {
                Current(key, now).Count++;
            }

            return new(true, TimeSpan.Zero, false);
        }
    }

    /// <summary>Gives back an attempt whose password was right (in the window it was counted in, if that is still open).</summary>
    public void Release(string? address)
    {
        if (attemptsPerMinute <= 0)
        {
            return;
        }

        lock (_lock)
        {
            foreach (var (key, _) in Buckets(address))
            {
                if (_clients.TryGetValue(key, out var entry) && entry.Count > 0)
                {
                    entry.Count--;
                }
            }
        }
    }

    /// <summary>How many clients are tracked now (tests, diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _clients.Count;
            }
        }
    }

    /// <summary>The counts an address belongs to, each with its limit; a client over capacity shares the overflow count.</summary>
    private List<(string Key, int Limit)> Buckets(string? address)
    {
        List<(string Key, int Limit)> buckets = [.. Partitions(address).Select(p => (p.Key, attemptsPerMinute * p.Factor))];
        if (buckets.Any(b => !_clients.ContainsKey(b.Key)) && _clients.Count + buckets.Count > capacity)
        {
            return [(Overflow, attemptsPerMinute)];
        }

        return buckets;
    }

    /// <summary>An IPv4 address alone; IPv6 by /64 and by /48 (a quarter as strict); IPv4-mapped IPv6 as IPv4.</summary>
    internal static IEnumerable<(string Key, int Factor)> Partitions(string? address)
    {
        if (!IPAddress.TryParse(address, out var ip))
        {
            return [(address ?? string.Empty, 1)];
        }

        if (ip.IsIPv4MappedToIPv6)
        {
            ip = ip.MapToIPv4();
        }

        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return [(ip.ToString(), 1)];
        }

        return [(Prefix(ip, 64), 1), (Prefix(ip, 48), 4)];
    }

    private static string Prefix(IPAddress ip, int bits)
    {
        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, bits / 8, bytes.Length - (bits / 8));
        return new IPAddress(bytes) + "/" + bits;
    }

    private Entry Current(string key, DateTimeOffset now)
    {
        if (!_clients.TryGetValue(key, out var entry) || now - entry.Start >= Window)
        {
            entry = new Entry { Start = now };
            _clients[key] = entry;
            _byStart.Enqueue((key, now));
        }

        return entry;
    }

    // Windows start in clock order, so the queue's head is the oldest: pop while it has ended (an entry renewed since is
    // further back in the queue under its new start and is kept).
    private void Expire(DateTimeOffset now)
    {
        while (_byStart.TryPeek(out var head) && now - head.Start >= Window)
        {
            _byStart.Dequeue();
            if (_clients.TryGetValue(head.Key, out var entry) && entry.Start == head.Start)
            {
                _clients.Remove(head.Key);
            }
        }
    }

    private sealed class Entry
    {
        public DateTimeOffset Start { get; init; }

        public int Count { get; set; }

        public bool Refused { get; set; }
    }
}
