using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ema.Cli;

/// <summary>
/// Decision 22: on first run the host creates a local certificate authority and a loopback server certificate in its
/// data folder (ECDSA P-256: cheap TLS handshakes). Clients trust the CA only because they are configured to
/// (<c>ca.crt</c>), never by turning validation off. Private keys are written with file mode 600.
/// </summary>
public static class LocalCertificateAuthority
{
    public const string CaCertificateFile = "ca.crt";
    private const string CaKeyFile = "ca.key";
    private const string ServerFile = "server.pfx";

    /// <summary>Loads or creates the CA and a server certificate for localhost, 127.0.0.1 and ::1.</summary>
    public static X509Certificate2 EnsureServerCertificate(string tlsDirectory, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        Directory.CreateDirectory(tlsDirectory);
        var now = time.GetUtcNow();
        var caPath = Path.Combine(tlsDirectory, CaCertificateFile);
        var caKeyPath = Path.Combine(tlsDirectory, CaKeyFile);
        var serverPath = Path.Combine(tlsDirectory, ServerFile);

        X509Certificate2 ca;
        if (File.Exists(caPath) && File.Exists(caKeyPath))
        {
            using var caKey = ECDsa.Create();
            caKey.ImportFromPem(File.ReadAllText(caKeyPath));
            using var caPublic = X509Certificate2.CreateFromPem(File.ReadAllText(caPath));
            ca = caPublic.CopyWithPrivateKey(caKey);
        }
        else
        {
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=Ema Local Development CA", caKey, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            ca = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(5));
            WritePrivate(caKeyPath, caKey.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(caPath, ca.ExportCertificatePem());
        }

        using (ca)
        {
            if (File.Exists(serverPath))
            {
                var existing = X509CertificateLoader.LoadPkcs12FromFile(serverPath, null);
                if (existing.NotAfter > now.AddDays(30).UtcDateTime && existing.Issuer == ca.Subject)
                {
                    return existing;
                }

                existing.Dispose();
            }

            using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            san.AddIpAddress(IPAddress.IPv6Loopback);
            serverRequest.CertificateExtensions.Add(san.Build());
            serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            var serial = RandomNumberGenerator.GetBytes(16);
            serial[0] &= 0x7F;
            using var issued = serverRequest.Create(ca, now.AddMinutes(-5), now.AddYears(1) < ca.NotAfter ? now.AddYears(1) : ca.NotAfter, serial);
            using var withKey = issued.CopyWithPrivateKey(serverKey);
            WritePrivate(serverPath, withKey.Export(X509ContentType.Pkcs12));
            return X509CertificateLoader.LoadPkcs12FromFile(serverPath, null);
        }
    }

    private static void WritePrivate(string path, string text) => WritePrivate(path, System.Text.Encoding.UTF8.GetBytes(text));

    private static void WritePrivate(string path, byte[] bytes)
    {
        using var stream = PrivateFile.Create(path);
        stream.Write(bytes);
    }
}
