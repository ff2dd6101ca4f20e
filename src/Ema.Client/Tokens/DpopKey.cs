using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ema.Protocol;

namespace Ema.Client.Tokens;

/// <summary>
/// This client's DPoP key (RFC 9449): a P-256 key made when the client starts and kept in memory only, so ID-JAGs bound
/// to it (cnf.jkt, ID-JAG §8.6.1) cannot be redeemed by anyone who copies them. Proofs are ES256 JWS with the public key
/// in the header.
/// </summary>
internal sealed class DpopKey
{
    private readonly ECParameters _key;
    private readonly string _publicJwk;
    private readonly TimeProvider _time;

    public DpopKey(TimeProvider time)
    {
        _time = time;
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _key = ec.ExportParameters(includePrivateParameters: true);
        var x = Base64Url.EncodeToString(_key.Q.X);
        var y = Base64Url.EncodeToString(_key.Q.Y);

        // RFC 7638 §3.2: the required members in lexicographic order, no whitespace — the thumbprint input and the header.
        _publicJwk = $"{{\"{JsonWebKeyNames.Curve}\":\"{JsonWebKeyNames.CurveP256}\",\"{JsonWebKeyNames.KeyType}\":\"{JsonWebKeyNames.KeyTypeEc}\",\"{JsonWebKeyNames.X}\":\"{x}\",\"{JsonWebKeyNames.Y}\":\"{y}\"}}";
        Thumbprint = Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(_publicJwk)));
    }

    /// <summary>The RFC 7638 thumbprint: what an ID-JAG bound to this key carries as <c>cnf.jkt</c>.</summary>
    public string Thumbprint { get; }

    /// <summary>A proof for one request (RFC 9449 §4.2): a fresh <c>jti</c>, the method, the URI without query and fragment.</summary>
    public string Proof(string method, string url, string? accessToken = null)
    {
        // RFC 9449 §4.2: the URI without query and fragment — and without any user information.
        var parsed = new Uri(url);
        var target = parsed.Scheme + "://" + parsed.Authority + parsed.AbsolutePath;
        var header = $"{{\"{JoseHeaderNames.Type}\":\"{JwtTypes.DpopProof}\",\"{JoseHeaderNames.Algorithm}\":\"{SecurityAlgorithms.EcdsaSha256}\",\"{JoseHeaderNames.Jwk}\":{_publicJwk}}}";
        using var payload = new MemoryStream();
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            json.WriteString(JwtClaimNames.JwtId, Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)));
            json.WriteString(JwtClaimNames.HttpMethod, method);
            json.WriteString(JwtClaimNames.HttpUri, target);
            json.WriteNumber(JwtClaimNames.IssuedAt, _time.GetUtcNow().ToUnixTimeSeconds());
            if (accessToken is not null)
            {
                // RFC 9449 §4.2: with an access token, its hash — base64url SHA-256 of its ASCII bytes.
                json.WriteString(JwtClaimNames.DpopAccessTokenHash, Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken))));
            }

            json.WriteEndObject();
        }

        var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(payload.ToArray());
        using var ec = ECDsa.Create(_key);
        var signature = ec.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return input + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>The <c>cnf.jkt</c> of a JWT's claims, read without verifying it (the client is not its audience; spec §2(a)27).</summary>
    public static string? ConfirmationThumbprint(string jwt, out bool hasConfirmation)
    {
        hasConfirmation = false;
        var parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            if (claims.RootElement.ValueKind != JsonValueKind.Object || !claims.RootElement.TryGetProperty(JwtClaimNames.Confirmation, out var cnf))
            {
                return null;
            }

            hasConfirmation = true;
            return cnf.ValueKind == JsonValueKind.Object && cnf.TryGetProperty(JwtClaimNames.JwkThumbprint, out var jkt) && jkt.ValueKind == JsonValueKind.String ? jkt.GetString() : null;
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            return null;
        }
    }
}
