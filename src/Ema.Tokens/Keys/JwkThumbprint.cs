using System.Security.Cryptography;
using System.Text;
using Ema.Protocol;
using Ema.Tokens.Jose;

namespace Ema.Tokens.Keys;

/// <summary>RFC 7638 JWK thumbprints (SHA-256, base64url), used as every Ema key's <c>kid</c>.</summary>
public static class JwkThumbprint
{
    /// <summary>Thumbprint of an EC public key: members <c>crv</c>, <c>kty</c>, <c>x</c>, <c>y</c> in lexicographic order (RFC 7638 §3.2).</summary>
    public static string ForEc(string curve, string x, string y) =>
        Hash($"{{\"crv\":\"{curve}\",\"kty\":\"{JsonWebKeyNames.KeyTypeEc}\",\"x\":\"{x}\",\"y\":\"{y}\"}}");

    /// <summary>Thumbprint of an RSA public key: members <c>e</c>, <c>kty</c>, <c>n</c> (RFC 7638 §3.2).</summary>
    public static string ForRsa(string n, string e) =>
        Hash($"{{\"e\":\"{e}\",\"kty\":\"{JsonWebKeyNames.KeyTypeRsa}\",\"n\":\"{n}\"}}");

    private static string Hash(string canonicalJson) =>
        Base64UrlStrict.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalJson)));
}
