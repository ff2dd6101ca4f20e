using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Ema.Server.Security;

/// <summary>
/// Passwords hashed with PBKDF2-HMAC-SHA512 (decision 15; OWASP Password Storage: 210,000 iterations), a 128-bit
/// random salt per password, compared in constant time. The iteration count is stored with each hash so it can rise.
/// </summary>
public sealed class PasswordHasher
{
    /// <summary>Default iteration count.</summary>
    public const int DefaultIterations = 210_000;
    private const string Prefix = "pbkdf2-sha512";

    private readonly int _iterations;
    private readonly Lazy<string> _dummyHash;

    /// <summary>Creates a hasher using <paramref name="iterations"/> for new hashes.</summary>
    public PasswordHasher(int iterations = DefaultIterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 10_000);
        _iterations = iterations;
        _dummyHash = new Lazy<string>(() => Hash(SecretHasher.NewSecret()));
    }

    /// <summary>Hashes a password.</summary>
    public string Hash(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, _iterations, HashAlgorithmName.SHA512, 32);
        return string.Join('$', Prefix, _iterations.ToString(CultureInfo.InvariantCulture), Convert.ToBase64String(salt), Convert.ToBase64String(hash));
    }

    /// <summary>Verifies a password against a stored hash; false for any malformed hash.</summary>
    public static bool Verify(string password, string? storedHash)
    {
        ArgumentNullException.ThrowIfNull(password);
        var parts = storedHash?.Split('$');
        if (parts is not { Length: 4 } || parts[0] != Prefix || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < 10_000)
        {
            return false;
        }

        try
        {
            var salt = Convert.FromBase64String(parts[2]);
            var expected = Convert.FromBase64String(parts[3]);
            var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, expected.Length);
            return CryptographicOperations.FixedTimeEquals(expected, actual);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>A hash of a random password, verified against when a username is unknown so timing does not reveal it.</summary>
    public string DummyHash => _dummyHash.Value;
}
