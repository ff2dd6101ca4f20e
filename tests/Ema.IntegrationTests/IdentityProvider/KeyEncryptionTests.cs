using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
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

        var before = await RunAsync(certificate, password);

        // At rest: every Data Protection key is an <encryptedSecret>, none holds its master key in clear.
        var keyFolder = Path.Combine(_data, "dataprotection-keys");
        var keys = Directory.GetFiles(keyFolder, "key-*.xml");
        Assert.NotEmpty(keys);
        foreach (var key in keys)
        {
            var xml = await File.ReadAllTextAsync(key);
            Assert.Contains("<encryptedSecret", xml, StringComparison.Ordinal);
            Assert.DoesNotContain("<masterKey", xml, StringComparison.Ordinal);
        }

        // Restarted with the certificate: the same signing keys.
        Assert.Equal(before, await RunAsync(certificate, password));

        // Without it, or with another certificate, the start stops before Data Protection reads the ring — which would
        // otherwise quietly write a new key, in clear when no certificate is set, and use it from then on.
        var without = await Assert.ThrowsAsync<InvalidOperationException>(() => RunAsync(null, null));
        Assert.Contains("Ema:KeyEncryptionCertificatePath", without.Message, StringComparison.Ordinal);
        var (other, otherPassword) = CreateCertificate("other.pfx");
        var mismatch = await Assert.ThrowsAsync<InvalidOperationException>(() => RunAsync(other, otherPassword));
        Assert.Contains("another certificate", mismatch.Message, StringComparison.Ordinal);
        Assert.Equal(keys.Order(StringComparer.Ordinal), Directory.GetFiles(keyFolder, "key-*.xml").Order(StringComparer.Ordinal)); // no key was added
        Assert.Equal(before, await RunAsync(certificate, password));

        // A wrong password or a missing file is refused before anything starts, with the setting named; a password on
        // the command line (readable by every user of the machine) is refused outright.
        var wrong = Assert.Throws<InvalidOperationException>(() => EmaHost.Build(Args(certificate), b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Ema:KeyEncryptionCertificatePassword"] = "wrong" })));
        Assert.Contains("Ema:KeyEncryptionCertificatePath", wrong.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => EmaHost.Build(Args(Path.Combine(_secrets, "missing.pfx"))));
        var onCommandLine = Assert.Throws<InvalidOperationException>(() => EmaHost.Build([.. Args(certificate), "--Ema:KeyEncryptionCertificatePassword=" + password]));
        Assert.Contains("environment", onCommandLine.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyRing_EncryptionConfiguredLater_KeepsReadingTheOldKeys_AndWarnsThatTheyAreInClear()
    {
        var before = await RunAsync(null, null);
        var (certificate, password) = CreateCertificate("kek.pfx");
        var logs = new LogCapture();
        var after = await RunAsync(certificate, password, logs);

        Assert.Equal(before, after);
        Assert.Single(logs.Lines, l => l.Contains("[5001]", StringComparison.Ordinal) && l.StartsWith("Warning", StringComparison.Ordinal));
    }

    [Fact]
    public async Task KeyRing_ADamagedKeyFile_StopsTheStartWithItsName_NotAStackTrace()
    {
        await RunAsync(null, null);
        var key = Directory.GetFiles(Path.Combine(_data, "dataprotection-keys"), "key-*.xml").First();
        await File.WriteAllTextAsync(key, "<key");

        var damaged = await Assert.ThrowsAsync<InvalidOperationException>(() => RunAsync(null, null));
        Assert.Contains(Path.GetFileName(key), damaged.Message, StringComparison.Ordinal);
        Assert.Contains("not readable XML", damaged.Message, StringComparison.Ordinal);
    }

    /// <summary>Starts `ema serve` on the data folder (the certificate's password as the environment would give it), reads the IdP's key ids, stops.</summary>
    private async Task<string> RunAsync(string? certificate, string? password, LogCapture? logs = null)
    {
        var app = EmaHost.Build(Args(certificate), b =>
        {
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Ema:KeyEncryptionCertificatePassword"] = password });
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

    private string[] Args(string? certificate) =>
        ["--Ema:DataDirectory=" + _data, $"--Ema:Urls=https://127.0.0.1:{EmaServerFixture.FreePort()}", "--Ema:Roles=idp", .. certificate is null ? Array.Empty<string>() : ["--Ema:KeyEncryptionCertificatePath=" + certificate]];

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
