using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Ema.Protocol;

namespace Ema.Tokens.Jose;

/// <summary>Key family of a JWS algorithm.</summary>
public enum JwsKeyFamily
{
    /// <summary>Elliptic curve (ECDSA, RFC 7518 §3.4).</summary>
    EllipticCurve,

    /// <summary>RSA (RSASSA-PKCS1-v1_5 §3.3 or RSASSA-PSS §3.5).</summary>
    Rsa,
}

/// <summary>
/// An asymmetric JWS algorithm Ema can sign or verify with (RFC 7518 §3). <c>none</c> and the HMAC family are
/// deliberately absent: they can never be looked up, so they can never be accepted (decision 4, RFC 8725 §3.1).
/// </summary>
public sealed class JwsAlgorithm
{
    private static readonly Dictionary<string, JwsAlgorithm> ByName = new JwsAlgorithm[]
    {
        new(SecurityAlgorithms.EcdsaSha256, JwsKeyFamily.EllipticCurve, HashAlgorithmName.SHA256, JsonWebKeyNames.CurveP256, 64, null),
        new(SecurityAlgorithms.EcdsaSha384, JwsKeyFamily.EllipticCurve, HashAlgorithmName.SHA384, JsonWebKeyNames.CurveP384, 96, null),
        new(SecurityAlgorithms.EcdsaSha512, JwsKeyFamily.EllipticCurve, HashAlgorithmName.SHA512, JsonWebKeyNames.CurveP521, 132, null),
        new(SecurityAlgorithms.RsaSha256, JwsKeyFamily.Rsa, HashAlgorithmName.SHA256, null, 0, RSASignaturePadding.Pkcs1),
        new(SecurityAlgorithms.RsaSha384, JwsKeyFamily.Rsa, HashAlgorithmName.SHA384, null, 0, RSASignaturePadding.Pkcs1),
        new(SecurityAlgorithms.RsaSha512, JwsKeyFamily.Rsa, HashAlgorithmName.SHA512, null, 0, RSASignaturePadding.Pkcs1),
        new(SecurityAlgorithms.RsaSsaPssSha256, JwsKeyFamily.Rsa, HashAlgorithmName.SHA256, null, 0, RSASignaturePadding.Pss),
        new(SecurityAlgorithms.RsaSsaPssSha384, JwsKeyFamily.Rsa, HashAlgorithmName.SHA384, null, 0, RSASignaturePadding.Pss),
        new(SecurityAlgorithms.RsaSsaPssSha512, JwsKeyFamily.Rsa, HashAlgorithmName.SHA512, null, 0, RSASignaturePadding.Pss),
    }.ToDictionary(a => a.Name, StringComparer.Ordinal);

    private JwsAlgorithm(string name, JwsKeyFamily family, HashAlgorithmName hash, string? curve, int ecSignatureLength, RSASignaturePadding? padding)
    {
        Name = name;
        Family = family;
        Hash = hash;
        Curve = curve;
        EcSignatureLength = ecSignatureLength;
        RsaPadding = padding;
    }

    /// <summary>The <c>alg</c> value.</summary>
    public string Name { get; }

    /// <summary>Key family.</summary>
    public JwsKeyFamily Family { get; }

    /// <summary>Digest algorithm.</summary>
    public HashAlgorithmName Hash { get; }

    /// <summary>JWK curve name for ECDSA algorithms.</summary>
    public string? Curve { get; }

    /// <summary>Fixed R||S signature length for ECDSA (RFC 7518 §3.4).</summary>
    public int EcSignatureLength { get; }

    /// <summary>RSA signature padding.</summary>
    public RSASignaturePadding? RsaPadding { get; }

    /// <summary>Looks up a supported asymmetric algorithm by its exact (case-sensitive) name.</summary>
    public static bool TryGet(string? name, [NotNullWhen(true)] out JwsAlgorithm? algorithm)
    {
        if (name is null)
        {
            algorithm = null;
            return false;
        }

        return ByName.TryGetValue(name, out algorithm);
    }

    /// <summary>Gets a supported algorithm or throws for a configuration error.</summary>
    public static JwsAlgorithm Get(string name) =>
        TryGet(name, out var algorithm) ? algorithm : throw new ArgumentException($"'{name}' is not a supported asymmetric JWS algorithm.", nameof(name));

    /// <inheritdoc />
    public override string ToString() => Name;
}
