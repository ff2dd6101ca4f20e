namespace Ema.Server.Model;

/// <summary>Whether a user may sign in and obtain grants.</summary>
public enum UserStatus
{
    /// <summary>May sign in.</summary>
    Active,

    /// <summary>May not sign in; existing grants are refused at token exchange.</summary>
    Disabled,
}

/// <summary>A person in the enterprise directory.</summary>
/// <param name="Id">Stable, opaque id; the <c>sub</c> of every token issued for the user.</param>
/// <param name="Username">Sign-in name (unique, case-insensitive).</param>
/// <param name="DisplayName">Name shown in pages and the <c>name</c> claim.</param>
/// <param name="Email">Email address, or null.</param>
/// <param name="Status">Active or disabled.</param>
/// <param name="Department">Department, for policy conditions.</param>
public sealed record User(string Id, string Username, string DisplayName, string? Email, UserStatus Status, string? Department = null)
{
    /// <summary>The form usernames are unique and looked up in: trimmed, upper-case invariant ("Bob " and "bob" are one name).</summary>
    public static string NormalizeUsername(string username)
    {
        ArgumentNullException.ThrowIfNull(username);
        return username.Trim().ToUpperInvariant();
    }
}

/// <summary>A user's password hash and sign-in throttling state.</summary>
public sealed record UserCredentials(string UserId, string PasswordHash, int FailedAttempts, DateTimeOffset? LockedUntil);

/// <summary>One password or one-time-code attempt, counted before it is checked (<c>IDirectoryStore.BeginSignInAttemptAsync</c>, <c>IMfaStore.BeginCodeAttemptAsync</c>).</summary>
/// <param name="Refused">Locked out: the password or code must not be checked at all.</param>
/// <param name="Count">The count of failures this attempt set (itself included); what a right answer clears, if nothing counted since.</param>
/// <param name="LockedUntil">When refused, the end of the lock; otherwise the end of the lock this attempt started (it reached the threshold), or null.</param>
/// <param name="PasswordHash">For a password attempt, the hash to check it against; null when refused or when there is none.</param>
public sealed record SignInAttempt(bool Refused, int Count, DateTimeOffset? LockedUntil, string? PasswordHash = null);

/// <summary>A directory group.</summary>
public sealed record Group(string Id, string Name, string? Description = null);

/// <summary>A directory role (for example <c>admin</c>).</summary>
public sealed record Role(string Id, string Name);
