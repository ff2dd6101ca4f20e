using System.Security.Cryptography;
using System.Text;

namespace Ema.Server.Security;

/// <summary>
/// Client secrets and opaque tokens: 256-bit random values, stored only as SHA-256 hashes and compared in constant
/// time (decision 15). A high-entropy secret needs no slow KDF; a password does (see <see cref="PasswordHasher"/>).
/// </summary>
public static class SecretHasher
{
    private const string Prefix = "sha256$";

    /// <summary>A new random secret or token: 256 bits, base64url.</summary>
    public static string NewSecret() => Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>A new random identifier with <paramref name="bytes"/> bytes of entropy.</summary>
    public static string NewId(string prefix, int bytes = 12) => prefix + Base64Url(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>
    /// A new identifier that sorts by creation time (48-bit milliseconds, then 80 random bits, base32hex), so database
    /// indexes on it grow at one end instead of touching a random page per insert.
    /// </summary>
    public static string NewOrderedId(string prefix, DateTimeOffset now)
    {
        Span<byte> bytes = stackalloc byte[16];
        var ms = now.ToUnixTimeMilliseconds();
        for (var i = 5; i >= 0; i--)
        {
            bytes[i] = (byte)(ms & 0xFF);
            ms >>= 8;
        }

        RandomNumberGenerator.Fill(bytes[6..]);
        return prefix + Convert.ToHexStringLower(bytes);
    }

    /// <summary>The stored form of a secret.</summary>
    public static string Hash(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return Prefix + Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
    }

    /// <summary>Whether <paramref name="secret"/> matches <paramref name="storedHash"/>, in constant time.</summary>
    public static bool Verify(string secret, string? storedHash)
    {
        if (storedHash is null || !storedHash.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(storedHash);
        var actual = Encoding.ASCII.GetBytes(Hash(secret));
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    internal static string Base64Url(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
