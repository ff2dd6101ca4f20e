using System.Collections.Concurrent;
using System.Security.Cryptography;
using Ema.Protocol;
using Ema.Server.Model;
using Ema.Server.Security;

namespace Ema.Server.IdentityProvider;

/// <summary>A pending RFC 8628 device authorization.</summary>
public sealed record DeviceAuthorization
{
    public required string DeviceCodeHash { get; init; }

    public required string UserCode { get; init; }

    public required string ClientId { get; init; }

    public required string Scope { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Set when the user approved on the verification page: the session the tokens are issued in.</summary>
    public IdpSession? ApprovedSession { get; init; }

    /// <summary>When the user approved (a disconnection after it cancels the approval).</summary>
    public DateTimeOffset? ApprovedAt { get; init; }

    public bool Denied { get; init; }

    /// <summary>The last poll, for <c>slow_down</c> (RFC 8628 §3.5).</summary>
    public DateTimeOffset? LastPolledAt { get; init; }
}

/// <summary>
/// RFC 8628 device authorizations of the IdP. Kept in memory: they live ten minutes, and a restart only makes the
/// client report an expired code so the user starts again — nothing half-done is left behind. Device codes are stored
/// as SHA-256 hashes; user codes are 8 letters from an alphabet without vowels or look-alikes (RFC 8628 §6.1).
/// </summary>
public sealed class DeviceAuthorizationService(TimeProvider time)
{
    /// <summary>RFC 8628 §3.2: minimum seconds between polls.</summary>
    public const int PollingIntervalSeconds = 5;

    /// <summary>Pending authorizations kept at most (memory bound; further starts are refused until some expire).</summary>
    public const int MaxPending = 10_000;

    /// <summary>RFC 8628 §5.1: wrong user codes tolerated per client address per minute before lookups are refused.</summary>
    public const int MaxFailedLookupsPerMinute = 10;

    private const string UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ";
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    private readonly ConcurrentDictionary<string, DeviceAuthorization> _byDeviceCode = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _byUserCode = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (int Failures, DateTimeOffset WindowStart)> _failedLookups = new(StringComparer.Ordinal);

    /// <summary>Starts an authorization; returns the device code (shown only to the client) and the record, or null
    /// when <see cref="MaxPending"/> authorizations are already pending.</summary>
    public (string DeviceCode, DeviceAuthorization Authorization)? Start(string clientId, string scope)
    {
        Sweep();
        if (_byDeviceCode.Count >= MaxPending)
        {
            return null;
        }

        var deviceCode = SecretHasher.NewSecret();
        var hash = SecretHasher.Hash(deviceCode);
        for (var attempt = 0; attempt < 16; attempt++)
        {
            var chars = new char[8];
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = UserCodeAlphabet[RandomNumberGenerator.GetInt32(UserCodeAlphabet.Length)];
            }

            var userCode = new string(chars, 0, 4) + "-" + new string(chars, 4, 4);
            if (!_byUserCode.TryAdd(userCode, hash))
            {
                continue; // a live code already has these letters: never let a typed code reach someone else's request
            }

            var authorization = new DeviceAuthorization { DeviceCodeHash = hash, UserCode = userCode, ClientId = clientId, Scope = scope, ExpiresAt = time.GetUtcNow() + Lifetime };
            _byDeviceCode[hash] = authorization;
            return (deviceCode, authorization);
        }

        return null;
    }

    /// <summary>The live authorization for a user code as typed (case and dash insensitive). <c>Limited</c> when the
    /// address made too many wrong guesses in the last minute (RFC 8628 §5.1: user codes must not be brute-forced).</summary>
    public (DeviceAuthorization? Authorization, bool Limited) FindByUserCode(string? typed, string? remoteAddress)
    {
        var now = time.GetUtcNow();
        var address = remoteAddress ?? "unknown";
        if (_failedLookups.TryGetValue(address, out var failures) && now - failures.WindowStart < TimeSpan.FromMinutes(1) && failures.Failures >= MaxFailedLookupsPerMinute)
        {
            return (null, true);
        }

        var found = Find(typed);
        if (found is null)
        {
            _failedLookups.AddOrUpdate(address, _ => (1, now), (_, f) => now - f.WindowStart < TimeSpan.FromMinutes(1) ? (f.Failures + 1, f.WindowStart) : (1, now));
        }

        return (found, false);
    }

    /// <summary>Records the user's approval (once, while the code is live, even if the device polled meanwhile).</summary>
    public bool Approve(DeviceAuthorization authorization, IdpSession session) => Decide(authorization.DeviceCodeHash, a => a with { ApprovedSession = session, ApprovedAt = time.GetUtcNow() });

    /// <summary>Records the user's refusal: the device's next poll gets <c>access_denied</c>.</summary>
    public bool Deny(DeviceAuthorization authorization) => Decide(authorization.DeviceCodeHash, a => a with { Denied = true });

    private bool Decide(string hash, Func<DeviceAuthorization, DeviceAuthorization> decide)
    {
        while (_byDeviceCode.TryGetValue(hash, out var current))
        {
            if (current.ExpiresAt <= time.GetUtcNow() || current.ApprovedSession is not null || current.Denied)
            {
                return false;
            }

            if (_byDeviceCode.TryUpdate(hash, decide(current), current))
            {
                return true;
            }
        }

        return false;
    }

    private DeviceAuthorization? Find(string? typed)
    {
        var normalized = new string((typed ?? string.Empty).ToUpperInvariant().Where(char.IsAsciiLetter).ToArray());
        if (normalized.Length != 8 || !_byUserCode.TryGetValue(normalized[..4] + "-" + normalized[4..], out var hash) || !_byDeviceCode.TryGetValue(hash, out var found))
        {
            return null;
        }

        return found.ExpiresAt > time.GetUtcNow() && found.ApprovedSession is null && !found.Denied ? found : null;
    }

    /// <summary>A poll by <paramref name="clientId"/>: the approved authorization (consumed: a device code is redeemed
    /// once), or the RFC 8628 §3.5 error to answer.</summary>
    public (DeviceAuthorization? Approved, ErrorDescriptor? Error) Poll(string deviceCode, string clientId)
    {
        var hash = SecretHasher.Hash(deviceCode);
        if (!_byDeviceCode.TryGetValue(hash, out var current) || current.ClientId != clientId)
        {
            return (null, ErrorIds.DeviceCodeInvalid);
        }

        var now = time.GetUtcNow();
        if (current.ExpiresAt <= now)
        {
            Remove(current);
            return (null, ErrorIds.DeviceCodeExpired);
        }

        if (current.Denied)
        {
            Remove(current);
            return (null, ErrorIds.DeviceAccessDenied);
        }

        if (current.ApprovedSession is not null)
        {
            return Remove(current) ? (current, null) : (null, ErrorIds.DeviceCodeInvalid); // two polls racing: one wins
        }

        var tooFast = current.LastPolledAt is { } last && now - last < TimeSpan.FromSeconds(PollingIntervalSeconds);
        _byDeviceCode.TryUpdate(hash, current with { LastPolledAt = now }, current);
        return (null, tooFast ? ErrorIds.DeviceSlowDown : ErrorIds.DeviceAuthorizationPending);
    }

    private bool Remove(DeviceAuthorization authorization)
    {
        _byUserCode.TryRemove(authorization.UserCode, out _);
        return _byDeviceCode.TryRemove(new KeyValuePair<string, DeviceAuthorization>(authorization.DeviceCodeHash, authorization));
    }

    private void Sweep()
    {
        var now = time.GetUtcNow();
        foreach (var (_, authorization) in _byDeviceCode)
        {
            if (authorization.ExpiresAt <= now)
            {
                Remove(authorization);
            }
        }

        foreach (var (address, failures) in _failedLookups)
        {
            if (now - failures.WindowStart >= TimeSpan.FromMinutes(1))
            {
                _failedLookups.TryRemove(new KeyValuePair<string, (int, DateTimeOffset)>(address, failures));
            }
        }
    }
}
