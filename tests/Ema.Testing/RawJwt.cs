using System.Security.Cryptography;
using System.Text;
using Ema.Tokens.Keys;

namespace Ema.Testing;

/// <summary>
/// Builds compact JWS strings from raw JSON text, so tests can craft anything an attacker could send: duplicate
/// members, wrong types, alg none, HMAC with a public key, foreign header keys.
/// </summary>
public static class RawJwt
{
    public static string B64(string text) => B64(Encoding.UTF8.GetBytes(text));

    public static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>header.payload signed by <paramref name="key"/> (whatever alg the header claims).</summary>
    public static string Sign(string headerJson, string payloadJson, SigningKey key)
    {
        var input = B64(headerJson) + "." + B64(payloadJson);
        return input + "." + B64(key.Sign(Encoding.ASCII.GetBytes(input)));
    }

    /// <summary>header.payload with an HMAC-SHA256 signature keyed by <paramref name="secret"/>.</summary>
    public static string Hmac(string headerJson, string payloadJson, byte[] secret)
    {
        var input = B64(headerJson) + "." + B64(payloadJson);
        return input + "." + B64(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));
    }

    /// <summary>header.payload with no signature (alg none style).</summary>
    public static string Unsigned(string headerJson, string payloadJson) => B64(headerJson) + "." + B64(payloadJson) + ".";
}
