using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Ema.Protocol;
using Ema.Tokens.Jose;

namespace Ema.Tokens.Keys;

/// <summary>
/// A public key that verifies JWS signatures: an ECDSA key on one curve or an RSA key of at least 2048 bits.
/// </summary>
/// <remarks>
/// Instances are immutable and safe for concurrent verification. The <see cref="KeyId"/> is the RFC 7638 thumbprint
/// unless the publishing JWK set named the key otherwise.
/// </remarks>
public sealed class VerificationKey
{
    /// <summary>Smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger MUST be used).</summary>
    public const int MinimumRsaBits = 2048;

    /// <summary>Largest RSA modulus accepted, so one verification cannot be made arbitrarily expensive.</summary>
    public const int MaximumRsaBits = 8192;

    private readonly ECDsa? _ec;
    private readonly RSA? _rsa;

    private VerificationKey(string keyId, ECDsa? ec, RSA? rsa, string? curve, string? algorithm, JsonWebKeyDocument jwk)
    {
        KeyId = keyId;
        _ec = ec;
        _rsa = rsa;
        Curve = curve;
        Algorithm = algorithm;
        Jwk = jwk;
    }

    /// <summary>Key id (<c>kid</c>).</summary>
    public string KeyId { get; }

    /// <summary>Key family.</summary>
    public JwsKeyFamily Family => _ec is not null ? JwsKeyFamily.EllipticCurve : JwsKeyFamily.Rsa;

    /// <summary>Curve name for EC keys.</summary>
    public string? Curve { get; }

    /// <summary>The algorithm the key is restricted to by its JWK <c>alg</c> member, if any (RFC 7517 §4.4).</summary>
    public string? Algorithm { get; }

    /// <summary>The modulus size of an RSA key; null for an EC key.</summary>
    public int? RsaBits => _rsa?.KeySize;

    /// <summary>The public JWK (for JWKS documents).</summary>
    public JsonWebKeyDocument Jwk { get; }

    /// <summary>Whether the key can verify signatures made with <paramref name="algorithm"/>.</summary>
    public bool IsCompatibleWith(JwsAlgorithm algorithm)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        if (Algorithm is not null && !string.Equals(Algorithm, algorithm.Name, StringComparison.Ordinal))
        {
            return false;
        }

        return algorithm.Family == Family && (Family != JwsKeyFamily.EllipticCurve || string.Equals(algorithm.Curve, Curve, StringComparison.Ordinal));
    }

    /// <summary>Verifies a JWS signature over the ASCII <paramref name="signingInput"/>. Never throws for bad signatures.</summary>
    public bool Verify(JwsAlgorithm algorithm, ReadOnlySpan<char> signingInput, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        if (!IsCompatibleWith(algorithm))
        {
            return false;
        }

        // RFC 7518 §3.4: ECDSA signatures are the fixed-length R||S concatenation; DER is refused.
        if (_ec is not null && signature.Length != algorithm.EcSignatureLength)
        {
            return false;
        }

        var byteCount = signingInput.Length;
        var rented = byteCount <= 2048 ? null : System.Buffers.ArrayPool<byte>.Shared.Rent(byteCount);
        var bytes = rented is null ? stackalloc byte[byteCount] : rented.AsSpan(0, byteCount);
        try
        {
            // The signing input is base64url text plus one dot: pure ASCII, so one byte per char.
            if (Encoding.ASCII.GetBytes(signingInput, bytes) != byteCount)
            {
                return false;
            }

            return _ec is not null
                ? _ec.VerifyData(bytes, signature, algorithm.Hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
                : _rsa!.VerifyData(bytes, signature, algorithm.Hash, algorithm.RsaPadding!);
        }
        catch (CryptographicException)
        {
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Creates a verification key from an EC public key.</summary>
    public static VerificationKey FromEcdsa(ECDsa key, string? keyId = null, string? algorithm = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        var parameters = key.ExportParameters(includePrivateParameters: false);
        var curve = CurveName(parameters.Curve) ?? throw new ArgumentException("Only the NIST P-256, P-384 and P-521 curves are supported.", nameof(key));
        var x = Base64UrlStrict.Encode(parameters.Q.X);
        var y = Base64UrlStrict.Encode(parameters.Q.Y);
        var kid = keyId ?? JwkThumbprint.ForEc(curve, x, y);
        var ec = ECDsa.Create(new ECParameters { Curve = parameters.Curve, Q = parameters.Q });
        var jwk = new JsonWebKeyDocument { KeyType = JsonWebKeyNames.KeyTypeEc, Use = JsonWebKeyNames.UseSignature, KeyId = kid, Algorithm = algorithm, Curve = curve, X = x, Y = y };
        return new VerificationKey(kid, ec, null, curve, algorithm, jwk);
    }

    /// <summary>Creates a verification key from an RSA public key (at least 2048 bits).</summary>
    public static VerificationKey FromRsa(RSA key, string? keyId = null, string? algorithm = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.KeySize < MinimumRsaBits)
        {
            throw new ArgumentException($"RSA keys must be at least {MinimumRsaBits} bits.", nameof(key));
        }

        var parameters = key.ExportParameters(includePrivateParameters: false);
        var n = Base64UrlStrict.Encode(parameters.Modulus);
        var e = Base64UrlStrict.Encode(parameters.Exponent);
        var kid = keyId ?? JwkThumbprint.ForRsa(n, e);
        var rsa = RSA.Create(new RSAParameters { Modulus = parameters.Modulus, Exponent = parameters.Exponent });
        var jwk = new JsonWebKeyDocument { KeyType = JsonWebKeyNames.KeyTypeRsa, Use = JsonWebKeyNames.UseSignature, KeyId = kid, Algorithm = algorithm, N = n, E = e };
        return new VerificationKey(kid, null, rsa, null, algorithm, jwk);
    }

    /// <summary>
    /// Builds a key from a published JWK. Keys for encryption (<c>use</c> other than <c>sig</c>), unknown key types,
    /// unsupported curves, short RSA moduli and malformed members are refused; a key without <c>kid</c> gets its thumbprint.
    /// </summary>
    public static bool TryFromJwk(JsonWebKeyDocument jwk, [NotNullWhen(true)] out VerificationKey? key, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(jwk);
        key = null;
        if (jwk.Use is not null && jwk.Use != JsonWebKeyNames.UseSignature)
        {
            reason = "key is not for signatures";
            return false;
        }

        if (jwk.Algorithm is not null && !JwsAlgorithm.TryGet(jwk.Algorithm, out _))
        {
            reason = "key algorithm is not a supported asymmetric algorithm";
            return false;
        }

        try
        {
            switch (jwk.KeyType)
            {
                case JsonWebKeyNames.KeyTypeEc:
                    var curve = CurveFromName(jwk.Curve);
                    if (curve is null || jwk.X is null || jwk.Y is null)
                    {
                        reason = "EC key lacks a supported crv, x or y";
                        return false;
                    }

                    var size = jwk.Curve == JsonWebKeyNames.CurveP256 ? 32 : jwk.Curve == JsonWebKeyNames.CurveP384 ? 48 : 66;
                    var x = DecodeExact(jwk.X, size);
                    var y = DecodeExact(jwk.Y, size);
                    if (x is null || y is null)
                    {
                        reason = "EC coordinates have the wrong length";
                        return false;
                    }

                    using (var ec = ECDsa.Create(new ECParameters { Curve = curve.Value, Q = new ECPoint { X = x, Y = y } }))
                    {
                        key = FromEcdsa(ec, jwk.KeyId, jwk.Algorithm);
                    }

                    reason = null;
                    return true;

                case JsonWebKeyNames.KeyTypeRsa:
                    var n = jwk.N is null ? null : DecodeAny(jwk.N);
                    var e = jwk.E is null ? null : DecodeAny(jwk.E);

                    // Bounds keep verification cheap: n of 2048–8192 bits, e at most 4 bytes and odd (RFC 8017 §3.1).
                    if (n is null || e is null || n.Length * 8 < MinimumRsaBits || n.Length * 8 > MaximumRsaBits
                        || e.Length is 0 or > 4 || (e[^1] & 1) == 0)
                    {
                        reason = "RSA key lacks n or e, has a modulus outside 2048–8192 bits, or an unusual exponent";
                        return false;
                    }

                    using (var rsa = RSA.Create(new RSAParameters { Modulus = n, Exponent = e }))
                    {
                        key = FromRsa(rsa, jwk.KeyId, jwk.Algorithm);
                    }

                    reason = null;
                    return true;

                default:
                    reason = "unsupported key type";
                    return false;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Hostile key material can make the platform crypto throw anything (seen: IndexOutOfRangeException).
            reason = "key material is invalid";
            key = null;
            return false;
        }
    }

    private static byte[]? DecodeExact(string text, int length)
    {
        var bytes = DecodeAny(text);
        return bytes is not null && bytes.Length == length ? bytes : null;
    }

    private static byte[]? DecodeAny(string text)
    {
        var buffer = new byte[Base64UrlStrict.MaxDecodedLength(text.Length)];
        var written = Base64UrlStrict.Decode(text, buffer);
        return written < 0 ? null : buffer[..written];
    }

    internal static string? CurveName(ECCurve curve) => curve.Oid?.Value switch
    {
        "1.2.840.10045.3.1.7" => JsonWebKeyNames.CurveP256,
        "1.3.132.0.34" => JsonWebKeyNames.CurveP384,
        "1.3.132.0.35" => JsonWebKeyNames.CurveP521,
        _ => curve.Oid?.FriendlyName switch
        {
            "nistP256" or "ECDSA_P256" => JsonWebKeyNames.CurveP256,
            "nistP384" or "ECDSA_P384" => JsonWebKeyNames.CurveP384,
            "nistP521" or "ECDSA_P521" => JsonWebKeyNames.CurveP521,
            _ => null,
        },
    };

    private static ECCurve? CurveFromName(string? name) => name switch
    {
        JsonWebKeyNames.CurveP256 => ECCurve.NamedCurves.nistP256,
        JsonWebKeyNames.CurveP384 => ECCurve.NamedCurves.nistP384,
        JsonWebKeyNames.CurveP521 => ECCurve.NamedCurves.nistP521,
        _ => null,
    };
}
