using System.Collections.Concurrent;
using System.Security.Cryptography;
using Ema.Protocol;
using Ema.Tokens.Jose;

namespace Ema.Tokens.Keys;

/// <summary>
/// A private signing key bound to one JWS algorithm. Its <c>kid</c> is the RFC 7638 thumbprint of the public key.
/// </summary>
/// <remarks>
/// Safe for concurrent signing. The private key never leaves the instance except through <see cref="ExportPkcs8"/>,
/// which storage uses to encrypt it at rest (decision 18).
/// </remarks>
public sealed class SigningKey : IDisposable
{
    private readonly ECDsa? _ec;
    private readonly RSA? _rsa;
    private readonly ConcurrentDictionary<string, string> _encodedHeaders = new(StringComparer.Ordinal);

    private SigningKey(JwsAlgorithm algorithm, ECDsa? ec, RSA? rsa)
    {
        Algorithm = algorithm;
        _ec = ec;
        _rsa = rsa;
        PublicKey = ec is not null ? VerificationKey.FromEcdsa(ec, algorithm: algorithm.Name) : VerificationKey.FromRsa(rsa!, algorithm: algorithm.Name);
    }

    /// <summary>Algorithm this key signs with.</summary>
    public JwsAlgorithm Algorithm { get; }

    /// <summary>Key id: the RFC 7638 thumbprint.</summary>
    public string KeyId => PublicKey.KeyId;

    /// <summary>The matching public key.</summary>
    public VerificationKey PublicKey { get; }

    /// <summary>Generates a new key for <paramref name="algorithm"/> (ES256 by default, decision 4).</summary>
    public static SigningKey Generate(string algorithm = SecurityAlgorithms.EcdsaSha256, int rsaKeySize = 3072)
    {
        var alg = JwsAlgorithm.Get(algorithm);
        if (alg.Family == JwsKeyFamily.EllipticCurve)
        {
            var curve = alg.Curve switch
            {
                JsonWebKeyNames.CurveP256 => ECCurve.NamedCurves.nistP256,
                JsonWebKeyNames.CurveP384 => ECCurve.NamedCurves.nistP384,
                _ => ECCurve.NamedCurves.nistP521,
            };
            return new SigningKey(alg, ECDsa.Create(curve), null);
        }

        if (rsaKeySize < VerificationKey.MinimumRsaBits)
        {
            throw new ArgumentOutOfRangeException(nameof(rsaKeySize), $"RSA keys must be at least {VerificationKey.MinimumRsaBits} bits.");
        }

        return new SigningKey(alg, null, RSA.Create(rsaKeySize));
    }

    /// <summary>Wraps an existing private key (the instance takes ownership).</summary>
    public static SigningKey FromEcdsa(ECDsa key, string algorithm = SecurityAlgorithms.EcdsaSha256)
    {
        ArgumentNullException.ThrowIfNull(key);
        var alg = JwsAlgorithm.Get(algorithm);
        if (alg.Family != JwsKeyFamily.EllipticCurve || VerificationKey.CurveName(key.ExportParameters(false).Curve) != alg.Curve)
        {
            throw new ArgumentException($"The key does not match {algorithm}.", nameof(key));
        }

        return new SigningKey(alg, key, null);
    }

    /// <summary>Wraps an existing RSA private key (the instance takes ownership).</summary>
    public static SigningKey FromRsa(RSA key, string algorithm = SecurityAlgorithms.RsaSha256)
    {
        ArgumentNullException.ThrowIfNull(key);
        var alg = JwsAlgorithm.Get(algorithm);
        if (alg.Family != JwsKeyFamily.Rsa)
        {
            throw new ArgumentException($"The key does not match {algorithm}.", nameof(key));
        }

        return new SigningKey(alg, null, key);
    }

    /// <summary>Exports the private key as PKCS#8 (for encrypted storage only).</summary>
    public byte[] ExportPkcs8() => _ec is not null ? _ec.ExportPkcs8PrivateKey() : _rsa!.ExportPkcs8PrivateKey();

    /// <summary>Imports a PKCS#8 private key for <paramref name="algorithm"/>.</summary>
    public static SigningKey ImportPkcs8(ReadOnlySpan<byte> pkcs8, string algorithm)
    {
        var alg = JwsAlgorithm.Get(algorithm);
        if (alg.Family == JwsKeyFamily.EllipticCurve)
        {
            var ec = ECDsa.Create();
            ec.ImportPkcs8PrivateKey(pkcs8, out _);
            return FromEcdsa(ec, algorithm);
        }

        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(pkcs8, out _);
        return FromRsa(rsa, algorithm);
    }

    /// <summary>Signs the ASCII bytes of a JWS signing input.</summary>
    public byte[] Sign(ReadOnlySpan<byte> signingInput) =>
        _ec is not null
            ? _ec.SignData(signingInput, Algorithm.Hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            : _rsa!.SignData(signingInput.ToArray(), Algorithm.Hash, Algorithm.RsaPadding!);

    /// <summary>Signs into <paramref name="destination"/>; returns the signature length.</summary>
    public int Sign(ReadOnlySpan<byte> signingInput, Span<byte> destination)
    {
        if (_ec is not null)
        {
            return _ec.TrySignData(signingInput, destination, Algorithm.Hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out var written)
                ? written
                : throw new CryptographicException("Signature buffer too small.");
        }

        return _rsa!.TrySignData(signingInput, destination, Algorithm.Hash, Algorithm.RsaPadding!, out var rsaWritten)
            ? rsaWritten
            : throw new CryptographicException("Signature buffer too small.");
    }

    /// <summary>Largest signature this key produces.</summary>
    public int MaxSignatureLength => _ec is not null ? Algorithm.EcSignatureLength : _rsa!.KeySize / 8;

    /// <summary>The base64url JOSE header for a token of type <paramref name="type"/>, built once per type.</summary>
    internal string EncodedHeader(string type) => _encodedHeaders.GetOrAdd(type, static (t, key) =>
        Base64UrlStrict.Encode(System.Text.Encoding.UTF8.GetBytes(
            $"{{\"alg\":\"{key.Algorithm.Name}\",\"kid\":\"{key.KeyId}\",\"typ\":\"{t}\"}}")), this);

    /// <inheritdoc />
    public void Dispose()
    {
        _ec?.Dispose();
        _rsa?.Dispose();
    }
}
