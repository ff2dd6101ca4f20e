using System.Security.Cryptography.X509Certificates;
using Ema.Server.AspNetCore.Hosting;
using Ema.Server.Security;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Ema.Server.AspNetCore;

/// <summary>Registers the ASP.NET Core glue of Ema.</summary>
public static class AspNetCoreServiceCollectionExtensions
{
    /// <summary>
    /// Data Protection persisted in <paramref name="dataProtectionKeysDirectory"/> (it encrypts the signing keys, TOTP
    /// secrets and the antiforgery tokens), antiforgery for the sign-in page, and the start-up task runner. With
    /// <paramref name="keyEncryptionCertificate"/> (an RSA certificate with its private key, kept outside the data folder)
    /// the key ring itself is encrypted at rest; without it, on Linux, the key ring is stored in clear and the data folder
    /// is the trust boundary.
    /// </summary>
    public static IServiceCollection AddEmaAspNetCore(this IServiceCollection services, string dataProtectionKeysDirectory, X509Certificate2? keyEncryptionCertificate = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var dataProtection = services.AddDataProtection().SetApplicationName("Ema").PersistKeysToFileSystem(new DirectoryInfo(dataProtectionKeysDirectory));
        if (keyEncryptionCertificate is not null)
        {
            using var rsa = keyEncryptionCertificate.GetRSAPublicKey();
            if (!keyEncryptionCertificate.HasPrivateKey || rsa is null)
            {
                throw new InvalidOperationException("The key-encryption certificate must be an RSA certificate with its private key (a PKCS#12 file).");
            }

            // Decrypting needs the certificate too: named here, it is not looked up in a certificate store (none on Linux).
            dataProtection.ProtectKeysWithCertificate(keyEncryptionCertificate).UnprotectKeysWithAnyCertificate(keyEncryptionCertificate);
        }

        // With or without a certificate: a start without it must not meet an encrypted key ring (see the check).
        services.AddSingleton<IStartupTask>(sp => new KeyRingEncryptionCheck(dataProtectionKeysDirectory, keyEncryptionCertificate, sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<KeyRingEncryptionCheck>>()));

        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "ema-af";
            o.Cookie.SameSite = Microsoft.AspNetCore.Http.SameSiteMode.Strict;
            o.FormFieldName = "__af";
        });
        services.TryAddSingleton<IKeyProtector, DataProtectionKeyProtector>();

        // Before every other hosted service (in particular the web server), so requests never see missing keys.
        services.Insert(0, ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, StartupTasksHostedService>());
        return services;
    }
}
