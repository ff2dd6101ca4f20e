namespace Ema.Server.IdentityProvider;

/// <summary>
/// At most N sign-in attempts per client address per minute, counted before the password is checked — whatever the
/// usernames. Per-user lockout stops guessing one account's password; it does nothing against password spraying (one
/// likely password tried once against every account), which this does. In memory, per IdP instance, in fixed
/// one-minute windows on the injected clock.
/// </summary>
/// <remarks>
/// Addresses are what Kestrel sees: behind a reverse proxy, every user shares the proxy's address, so either forward
/// the client address (ASP.NET Core's forwarded-headers middleware) or raise the limit. Bounded: at
/// <see cref="Capacity"/> addresses, windows that have ended are forgotten; if none has, a new address is not counted.
/// </remarks>
public sealed class SignInRateLimit(TimeProvider time, int attemptsPerMinute)
{
    /// <summary>How many addresses are tracked at most.</summary>
    public const int Capacity = 100_000;

    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (DateTimeOffset Start, int Count)> _addresses = new(StringComparer.Ordinal);

    /// <summary>Counts an attempt from <paramref name="address"/>; false (with when to try again) once the limit is reached.</summary>
    public bool TryAcquire(string? address, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (attemptsPerMinute <= 0)
        {
            return true; // off
        }

        var now = time.GetUtcNow();
        var key = Partition(address);
        lock (_lock)
        {
            if (!_addresses.TryGetValue(key, out var entry) || now - entry.Start >= Window)
            {
                if (_addresses.Count >= Capacity && !_addresses.ContainsKey(key) && !MakeRoom(now))
                {
                    return true;
                }

                entry = (now, 0);
            }

            if (entry.Count >= attemptsPerMinute)
            {
                retryAfter = entry.Start + Window - now;
                return false;
            }

            _addresses[key] = (entry.Start, entry.Count + 1);
            return true;
        }
    }

    /// <summary>
    /// An IPv4 address counts alone; an IPv6 address counts with its /64 — the usual size of one site's or one host's
    /// allocation, every address of which the same client can use — and an IPv4-mapped IPv6 address as its IPv4 address.
    /// </summary>
    internal static string Partition(string? address)
    {
        if (!System.Net.IPAddress.TryParse(address, out var ip))
        {
            return address ?? string.Empty;
        }

        if (ip.IsIPv4MappedToIPv6)
        {
            return ip.MapToIPv4().ToString();
        }

        if (ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return ip.ToString();
        }

        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new System.Net.IPAddress(bytes) + "/64";
    }

    private bool MakeRoom(DateTimeOffset now)
    {
        foreach (var (address, entry) in _addresses.Where(a => now - a.Value.Start >= Window).ToList())
        {
            _addresses.Remove(address);
        }

        return _addresses.Count < Capacity;
    }
}
