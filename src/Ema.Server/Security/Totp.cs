using System.Security.Cryptography;
using System.Text;

namespace Ema.Server.Security;

/// <summary>
/// RFC 6238 TOTP with the RFC 4226 HOTP truncation: HMAC-SHA1, 30-second steps, 6 digits (the authenticator-app
/// defaults). Verification accepts the current step and one step either side (clock drift, RFC 6238 §5.2), compares in
/// constant time, and returns the step used so the caller can refuse its reuse.
/// </summary>
public static class Totp
{
    public const int Digits = 6;
    public static readonly TimeSpan Step = TimeSpan.FromSeconds(30);

    public static long StepAt(DateTimeOffset time) => time.ToUnixTimeSeconds() / (long)Step.TotalSeconds;

    public static string Code(ReadOnlySpan<byte> secret, long step)
    {
        Span<byte> counter = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(counter, step);
        Span<byte> hash = stackalloc byte[20];
#pragma warning disable CA5350 // RFC 6238 with authenticator apps means HMAC-SHA1; as a keyed PRF it is not weakened by SHA-1 collisions
        HMACSHA1.HashData(secret, counter, hash);
#pragma warning restore CA5350
        var offset = hash[^1] & 0x0F;
        var binary = ((hash[offset] & 0x7F) << 24) | (hash[offset + 1] << 16) | (hash[offset + 2] << 8) | hash[offset + 3];
        return (binary % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The matching step, if <paramref name="code"/> is valid now and newer than <paramref name="lastUsedStep"/>.</summary>
    public static long? Verify(ReadOnlySpan<byte> secret, string? code, DateTimeOffset now, long lastUsedStep)
    {
        if (code is null || code.Length != Digits || !code.All(char.IsAsciiDigit))
        {
            return null;
        }

        var current = StepAt(now);
        long? matched = null;
        for (var step = current - 1; step <= current + 1; step++)
        {
            // Every candidate is computed and compared, so the time taken does not reveal which one matched.
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Code(secret, step)), Encoding.ASCII.GetBytes(code)) && step > lastUsedStep)
            {
                matched = step;
            }
        }

        return matched;
    }

    public static byte[] NewSecret() => RandomNumberGenerator.GetBytes(20);

    /// <summary>The <c>otpauth://</c> URI authenticator apps import (issuer Ema, SHA-1, 6 digits, 30 s).</summary>
    public static string OtpAuthUri(string username, string secretBase32) =>
        $"otpauth://totp/Ema:{Uri.EscapeDataString(username)}?secret={secretBase32}&issuer=Ema&algorithm=SHA1&digits=6&period=30";

    /// <summary>RFC 4648 base32 without padding, as authenticator apps expect in <c>otpauth://</c> URIs.</summary>
    public static string Base32(ReadOnlySpan<byte> data)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var result = new StringBuilder((data.Length * 8 + 4) / 5);
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                result.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            result.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        }

        return result.ToString();
    }

    public static byte[] FromBase32(string text)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var output = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (var c in text.TrimEnd('=').ToUpperInvariant())
        {
            var value = Alphabet.IndexOf(c, StringComparison.Ordinal);
            if (value < 0)
            {
                throw new FormatException("not base32");
            }

            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8)
            {
                output.Add((byte)((buffer >> (bits - 8)) & 0xFF));
                bits -= 8;
            }
        }

        return [.. output];
    }
}

/// <summary>Administrator enrolment: a new authenticator replaces any other.</summary>
public static class MfaEnrollments
{
    /// <summary>Creates a secret, stores it encrypted for <paramref name="userId"/>, and returns it in base32 (to show once).</summary>
    public static async Task<string> EnrolNewAsync(this IMfaStore store, IKeyProtector protector, string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(protector);
        var secret = Totp.NewSecret();
        var base32 = Totp.Base32(secret); // before Protect, which zeroes the plaintext
        await store.SetTotpAsync(userId, protector.Protect(secret), cancellationToken, auditRecord).ConfigureAwait(false);
        return base32;
    }
}

/// <summary>Users' TOTP secrets (encrypted by the caller's <see cref="IKeyProtector"/>) and the last step each used.</summary>
public interface IMfaStore
{
    Task<(byte[] ProtectedSecret, long LastStep)?> FindTotpAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Stores the user's authenticator, replacing any other (an administrator's enrolment).</summary>
    Task SetTotpAsync(string userId, byte[] protectedSecret, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Stores a first authenticator, atomically; false when the user already has one (it is never replaced).</summary>
    Task<bool> TryAddTotpAsync(string userId, byte[] protectedSecret, CancellationToken cancellationToken);

    /// <summary>Records <paramref name="step"/> as used, atomically; false when it (or a later one) was used already.</summary>
    Task<bool> TryUseStepAsync(string userId, long step, CancellationToken cancellationToken);

    /// <summary>
    /// Counts one one-time-code attempt before the code is checked, atomically — the same contract as
    /// <c>IDirectoryStore.BeginSignInAttemptAsync</c>, with a count and lock of the authenticator's own. Null when the
    /// user has no authenticator.
    /// </summary>
    Task<Model.SignInAttempt?> BeginCodeAttemptAsync(string userId, DateTimeOffset now, Func<int, DateTimeOffset?> lockoutAfter, CancellationToken cancellationToken);

    /// <summary>A right code: as <c>IDirectoryStore.ClearSignInFailuresAsync</c>, for the authenticator's count.</summary>
    Task ClearCodeFailuresAsync(string userId, int count, CancellationToken cancellationToken);

    /// <summary>The end of the authenticator's lock, if it is locked at <paramref name="now"/>.</summary>
    Task<DateTimeOffset?> FindCodeLockAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Lost device: removes the user's authenticator and ends every live session of theirs (and its refresh tokens) in
    /// one transaction — sessions that proved the lost factor must not outlive it —; false, and nothing changed, when
    /// the user had no authenticator. Session lookups cached by an <see cref="Stores.IGrantStore"/> see the end within
    /// their TTL; the caller revokes them through that store too to end them in its cache at once.
    /// </summary>
    Task<bool> RemoveAuthenticatorAsync(string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);
}
