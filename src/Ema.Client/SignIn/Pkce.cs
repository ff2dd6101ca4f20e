using System.Security.Cryptography;
using System.Text;

namespace Ema.Client.SignIn;

/// <summary>RFC 7636 PKCE (S256) and the random <c>state</c>/<c>nonce</c> values of an authorization request.</summary>
internal static class Pkce
{
    /// <summary>A 256-bit verifier (43 base64url characters, RFC 7636 §4.1).</summary>
    public static string NewVerifier() => RandomValue(32);

    /// <summary>BASE64URL(SHA256(verifier)) (RFC 7636 §4.2).</summary>
    public static string Challenge(string verifier) => Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    /// <summary>An unguessable URL-safe value of <paramref name="bytes"/> random bytes.</summary>
    public static string RandomValue(int bytes) => Base64Url(RandomNumberGenerator.GetBytes(bytes));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
