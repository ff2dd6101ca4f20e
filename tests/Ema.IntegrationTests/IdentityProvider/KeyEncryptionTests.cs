using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>
/// Keys encrypted at rest with a key-encryption key kept outside the data folder: the Data Protection key ring (which
/// encrypts the signing keys and TOTP secrets) is itself encrypted with a certificate (Ema:KeyEncryptionCertificatePath).
/// </summary>
public sealed class KeyEncryptionTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "ema-kek-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)));
    private readonly string _secrets = Path.Combine(Path.GetTempPath(), "ema-kek-secret-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var dir in new[] { _data, _secrets })
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task KeyRing_WithAKeyEncryptionCertificate_IsEncryptedAtRest_ReadableAgainWithIt_AndNotWithoutIt()
    {
        var (certificate, password) = CreateCertificate("kek.pfx");

        var before = await RunAsync(["--Ema:KeyEncryptionCertificatePath=" + certificate, "--Ema:KeyEncryptionCertificatePassword=" + password]);

        // At rest: every Data Protection key is an <encryptedSecret>, none holds its master key in clear.
        var keys = Directory.GetFiles(Path.Combine(_data, "dataprotection-keys"), "key-*.xml");
        Assert.NotEmpty(keys);
        foreach (var key in keys)
        {
            var xml = await File.ReadAllTextAsync(key);
            Assert.Contains("<encryptedSecret", xml, StringComparison.Ordinal);
            Assert.DoesNotContain("<masterKey", xml, StringComparison.Ordinal);
        }

        // Restarted with the certificate: the same signing keys.
        var after = await RunAsync(["--Ema:KeyEncryptionCertificatePath=" + certificate, "--Ema:KeyEncryptionCertificatePassword=" + password]);
        Assert.Equal(before, after);

        // Without it, or with another certificate, the signing keys cannot be read: the start fails with a reason.
        var without = await Assert.ThrowsAsync<InvalidOperationException>(() => RunAsync([]));
        Assert.Contains("Ema:KeyEncryptionCertificatePath", without.Message, StringComparison.Ordinal);
        var (other, otherPassword) = CreateCertificate("other.pfx");
        await Assert.ThrowsAsync<InvalidOperationException>(() => RunAsync(["--Ema:KeyEncryptionCertificatePath=" + other, "--Ema:KeyEncryptionCertificatePassword=" + otherPassword]));

        // A wrong password or a missing file is refused before anything starts, with the setting named.
        var wrong = Assert.Throws<InvalidOperationException>(() => EmaHost.Build(Args(["--Ema:KeyEncryptionCertificatePath=" + certificate, "--Ema:KeyEncryptionCertificatePassword=wrong"])));
        Assert.Contains("Ema:KeyEncryptionCertificatePath", wrong.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => EmaHost.Build(Args(["--Ema:KeyEncryptionCertificatePath=" + Path.Combine(_secrets, "missing.pfx")])));
    }

    [Fact]
    public async Task KeyRing_EncryptionConfiguredLater_KeepsReadingTheOldKeys_AndWarnsThatTheyAreInClear()
    {
        var before = await RunAsync([]);
        var (certificate, password) = CreateCertificate("kek.pfx");
        var logs = new LogCapture();
        var after = await RunAsync(["--Ema:KeyEncryptionCertificatePath=" + certificate, "--Ema:KeyEncryptionCertificatePassword=" + password], logs);

        Assert.Equal(before, after);
        Assert.Single(logs.Lines, l => l.Contains("[5001]", StringComparison.Ordinal) && l.StartsWith("Warning", StringComparison.Ordinal));
    }

    /// <summary>Starts `ema serve` on the data folder, reads the IdP's key ids, stops.</summary>
    private async Task<string> RunAsync(string[] extra, LogCapture? logs = null)
    {
        var app = EmaHost.Build(Args(extra), b =>
        {
            b.Logging.ClearProviders();
            if (logs is not null)
            {
                b.Logging.AddProvider(logs);
            }
        });
        try
        {
            await app.StartAsync();
            using var http = TrustedHttp.Client(X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_data, "tls", LocalCertificateAuthority.CaCertificateFile)));
            var jwks = JsonSerializer.Deserialize(await http.GetStringAsync(app.Urls.First() + "/idp/jwks"), EmaJsonContext.Default.JsonWebKeySetDocument)!;
            return string.Join(' ', jwks.Keys.Select(k => k.KeyId).Order(StringComparer.Ordinal));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            SqliteConnection.ClearAllPools();
        }
    }

    private string[] Args(string[] extra) =>
        ["--Ema:DataDirectory=" + _data, $"--Ema:Urls=https://127.0.0.1:{EmaServerFixture.FreePort()}", "--Ema:Roles=idp", .. extra];

    private (string Path, string Password) CreateCertificate(string name)
    {
        Directory.CreateDirectory(_secrets);
        using var rsa = RSA.Create(3072);
        var request = new CertificateRequest("CN=Ema key encryption", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UnixEpoch, new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        var path = Path.Combine(_secrets, name);
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, password));
        return (path, password);
    }
}
