using System.Security.Cryptography;
using System.Text;
using Ema.Server.Model;

namespace Ema.Server.IdentityProvider;

/// <summary>
/// Failed sign-ins for usernames that are not in the directory, counted like a real user's (the same threshold, the
/// same back-off, the same "too many failed attempts" answer), so that the lockout message does not tell which
/// usernames exist. Kept in memory, per IdP instance: nothing about a name that is not a user is worth storing.
/// </summary>
/// <remarks>
/// Names are kept as an HMAC under a key of this instance, never in clear (people type passwords into the username
/// field), and so take 32 bytes each whatever their length. Bounded: at <see cref="Capacity"/> names, the ones not locked right now are forgotten first; when every tracked name
/// is locked, a new name is not tracked (its attempts are answered as wrong passwords). Only a flood of that many
/// distinct names in one lock period shows the difference, and the flood itself is in the audit trail.
/// </remarks>
public sealed class UnknownUsernameAttempts
{
    /// <summary>How many names are tracked at most.</summary>
    public const int Capacity = 50_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, (int Failures, DateTimeOffset? LockedUntil)> _names = new(StringComparer.Ordinal);
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private DateTimeOffset _fullUntil = DateTimeOffset.MinValue;

    /// <summary>The same contract as <c>IDirectoryStore.BeginSignInAttemptAsync</c>, for a name with no user.</summary>
    public SignInAttempt Begin(string username, DateTimeOffset now, Func<int, DateTimeOffset?> lockoutAfter)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(lockoutAfter);

        // The directory's own normalization, so "Bob " and "bob" are one name here too.
        var key = Convert.ToBase64String(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(User.NormalizeUsername(username))));
        lock (_lock)
        {
            _names.TryGetValue(key, out var entry);
            if (entry.LockedUntil is { } locked && locked > now)
            {
                return new SignInAttempt(Refused: true, entry.Failures, locked);
            }

            if (entry.Failures == 0 && _names.Count >= Capacity && (now < _fullUntil || !MakeRoom(now)))
            {
                return new SignInAttempt(Refused: false, 0, null);
            }

            var failures = entry.Failures == int.MaxValue ? int.MaxValue : entry.Failures + 1;
            var lockUntil = lockoutAfter(failures);
            _names[key] = (failures, lockUntil ?? entry.LockedUntil);
            return new SignInAttempt(Refused: false, failures, lockUntil);
        }
    }

    /// <summary>How many names are tracked now (for tests and diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _names.Count;
            }
        }
    }

    // One pass frees every name not locked now; when none is, no pass is made again before the first lock ends (each new
    // name would otherwise scan the whole table under the lock).
    private bool MakeRoom(DateTimeOffset now)
    {
        List<string>? unlocked = null;
        var firstUnlock = DateTimeOffset.MaxValue;
        foreach (var (name, entry) in _names)
        {
            if (entry.LockedUntil is not { } locked || locked <= now)
            {
                (unlocked ??= []).Add(name);
            }
            else if (locked < firstUnlock)
            {
                firstUnlock = locked;
            }
        }

        foreach (var name in unlocked ?? [])
        {
            _names.Remove(name);
        }

        if (_names.Count < Capacity)
        {
            return true;
        }

        _fullUntil = firstUnlock;
        return false;
    }
}
