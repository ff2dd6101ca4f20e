using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ema.Protocol;

namespace Ema.Client.Tokens;

/// <summary>
/// <c>private_key_jwt</c> (RFC 7523 §2.2, §3; decision 13): a short-lived JWT signed with the client's private key —
/// <c>iss</c> and <c>sub</c> its client id, <c>aud</c> the endpoint it is posted to, a fresh <c>jti</c>, <c>exp</c> one
/// minute ahead — sent as <c>client_assertion</c> in place of a secret.
/// </summary>
internal static class ClientAssertion
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);

    /// <summary>Why <paramref name="pem"/> cannot sign assertions, or null.</summary>
    public static string? KeyProblem(string? pem)
    {
        if (string.IsNullOrWhiteSpace(pem))
        {
            return "needs PrivateKeyPem (a PKCS#8 PEM private key).";
        }

        try
        {
            var (algorithm, ec, rsa) = Import(pem);
            using (ec)
            using (rsa)
            {
                return algorithm is null ? "needs an EC P-256 or an RSA (2048 bits or more) private key." : null;
            }
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            return "PrivateKeyPem is not a PEM private key.";
        }
    }

    /// <summary>The assertion for one request to <paramref name="endpoint"/>.</summary>
    public static string Create(ClientCredentials client, string endpoint, TimeProvider time)
    {
        var (algorithm, ec, rsa) = Import(client.PrivateKeyPem!);
        using (ec)
        using (rsa)
        {
            var header = $"{{\"{JoseHeaderNames.Algorithm}\":\"{algorithm}\",\"{JoseHeaderNames.Type}\":\"JWT\"}}";
            var now = time.GetUtcNow();
            using var payload = new MemoryStream();
            using (var json = new Utf8JsonWriter(payload))
            {
                json.WriteStartObject();
                json.WriteString(JwtClaimNames.Issuer, client.ClientId);
                json.WriteString(JwtClaimNames.Subject, client.ClientId);
                json.WriteString(JwtClaimNames.Audience, endpoint);
                json.WriteString(JwtClaimNames.JwtId, Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)));
                json.WriteNumber(JwtClaimNames.IssuedAt, now.ToUnixTimeSeconds());
                json.WriteNumber(JwtClaimNames.ExpiresAt, (now + Lifetime).ToUnixTimeSeconds());
                json.WriteEndObject();
            }

            var input = Encoding.ASCII.GetBytes(Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(payload.ToArray()));
            var signature = ec is not null
                ? ec.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
                : rsa!.SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            return Encoding.ASCII.GetString(input) + "." + Base64Url.EncodeToString(signature);
        }
    }

    // An RSA key if the PEM holds one, else an EC key; the algorithm is null for a key Ema would not sign with.
    private static (string? Algorithm, ECDsa? Ec, RSA? Rsa) Import(string pem)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            _ = rsa.ExportParameters(includePrivateParameters: true); // a public-key PEM imports too: it cannot sign
            return rsa.KeySize >= 2048 ? (SecurityAlgorithms.RsaSha256, null, rsa) : (null, null, rsa);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
        }

        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
        }
        catch
        {
            ec.Dispose();
            throw;
        }

        // ES256 is P-256 exactly (RFC 7518 §3.4): other 256-bit curves (secp256k1, brainpool) sign nothing a server accepts.
        var parameters = ec.ExportParameters(includePrivateParameters: true);
        return parameters.Curve.Oid?.Value == ECCurve.NamedCurves.nistP256.Oid.Value && parameters.D is not null
            ? (SecurityAlgorithms.EcdsaSha256, ec, null)
            : (null, ec, null);
    }
}
