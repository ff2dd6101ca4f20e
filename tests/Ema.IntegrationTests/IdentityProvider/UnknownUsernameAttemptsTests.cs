using Ema.Server.IdentityProvider;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>The in-memory lockout for usernames that do not exist: the same rule as a user's, and bounded.</summary>
public sealed class UnknownUsernameAttemptsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    // Threshold 3, a one-minute lock: what the IdP passes in from its options.
    private static DateTimeOffset? LockAfterThree(int failures) => failures >= 3 ? Now.AddMinutes(1) : null;

    [Fact]
    public void UnknownUsername_IsRefusedWhileLocked_AndCountedAgainAfterTheLockEnds()
    {
        var attempts = new UnknownUsernameAttempts();
        Assert.Null(attempts.Begin("ghost", Now, LockAfterThree).LockedUntil);
        Assert.Null(attempts.Begin("ghost", Now, LockAfterThree).LockedUntil);
        Assert.Equal(Now.AddMinutes(1), attempts.Begin("GHOST ", Now, LockAfterThree).LockedUntil);

        var locked = attempts.Begin("ghost", Now.AddSeconds(30), LockAfterThree);
        Assert.True(locked.Refused);
        Assert.Equal(Now.AddMinutes(1), locked.LockedUntil);

        var later = attempts.Begin("ghost", Now.AddMinutes(2), f => f == 4 ? Now.AddMinutes(4) : null);
        Assert.False(later.Refused);
        Assert.Equal(Now.AddMinutes(4), later.LockedUntil); // the fourth failure, as for a real user
    }

    [Fact]
    public void UnknownUsernames_AreBounded_UnlockedNamesForgottenFirst()
    {
        var attempts = new UnknownUsernameAttempts();
        for (var i = 0; i < 3; i++)
        {
            attempts.Begin("locked-name", Now, LockAfterThree);
        }

        for (var i = 1; i < UnknownUsernameAttempts.Capacity; i++)
        {
            attempts.Begin("name-" + i, Now, LockAfterThree);
        }

        Assert.Equal(UnknownUsernameAttempts.Capacity, attempts.Count);
        attempts.Begin("one-more", Now, LockAfterThree);
        Assert.Equal(2, attempts.Count); // the locked name and the new one
        Assert.True(attempts.Begin("locked-name", Now, LockAfterThree).Refused);
    }

    [Fact]
    public void UnknownUsernames_FullOfLockedNames_NewOnesWaitForTheFirstLockToEnd_ThenAreCountedAgain()
    {
        var attempts = new UnknownUsernameAttempts();
        for (var i = 0; i < UnknownUsernameAttempts.Capacity; i++)
        {
            var lockedUntil = Now.AddMinutes(1).AddSeconds(i % 2); // half end a second later
            attempts.Begin("locked-" + i, Now, _ => lockedUntil);
        }

        Assert.Equal(UnknownUsernameAttempts.Capacity, attempts.Count);
        Assert.Null(attempts.Begin("newcomer", Now, LockAfterThree).LockedUntil); // not tracked: every name is locked
        Assert.Null(attempts.Begin("newcomer", Now, LockAfterThree).LockedUntil);
        Assert.Null(attempts.Begin("newcomer", Now, LockAfterThree).LockedUntil);
        Assert.Equal(UnknownUsernameAttempts.Capacity, attempts.Count);

        // The first locks end: room again, and the newcomer is counted as any name.
        var later = Now.AddMinutes(1);
        attempts.Begin("newcomer", later, LockAfterThree);
        Assert.True(attempts.Count < UnknownUsernameAttempts.Capacity);
        attempts.Begin("newcomer", later, LockAfterThree);
        Assert.NotNull(attempts.Begin("newcomer", later, f => f >= 3 ? later.AddMinutes(1) : null).LockedUntil);
    }
}
