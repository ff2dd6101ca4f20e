using System.Security.Cryptography.X509Certificates;
using System.Xml.Linq;
using Microsoft.Extensions.Logging;

namespace Ema.Server.AspNetCore.Hosting;

/// <summary>
/// Checks the Data Protection key ring against the configured key-encryption certificate before anything reads it
/// (order 90: before the signing keys, and before Data Protection's own start-up, which would create a key). Data
/// Protection meets a key it cannot decrypt by quietly writing a new one — in clear when no certificate is configured —
/// and using it for everything protected from then on; one start without the certificate would undo the encryption.
/// So: encrypted keys and no certificate, or keys encrypted with another certificate, stop the start with the reason.
/// Keys in clear beside a configured certificate (written before it was) are reported (event 5001).
/// </summary>
internal sealed class KeyRingEncryptionCheck(string keysDirectory, X509Certificate2? certificate, ILogger<KeyRingEncryptionCheck> logger) : IStartupTask
{
    public int Order => 90;

    public Task RunAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(keysDirectory))
        {
            return Task.CompletedTask;
        }

        var inClear = 0;
        foreach (var file in Directory.EnumerateFiles(keysDirectory, "key-*.xml"))
        {
            XDocument key;
            try
            {
                key = XDocument.Load(file);
            }
            catch (System.Xml.XmlException ex)
            {
                throw new InvalidOperationException($"The Data Protection key {file} is not readable XML ({ex.Message}): restore it from a backup.", ex);
            }

            // An encrypted key holds <encryptedSecret>, with the certificate it was encrypted to in an <X509Certificate>
            // (XML Encryption's KeyInfo); a key in clear holds its secret in <masterKey>.
            if (!key.Descendants().Any(e => e.Name.LocalName == "encryptedSecret"))
            {
                inClear++;
                continue;
            }

            if (certificate is null)
            {
                throw new InvalidOperationException($"The Data Protection key ring in {keysDirectory} is encrypted with a certificate, and none is configured: set Ema:KeyEncryptionCertificatePath (and its password, from the environment). Starting without it would write a new key in clear.");
            }

            var encryptedTo = key.Descendants().Where(e => e.Name.LocalName == "X509Certificate").Select(e => e.Value.Trim()).FirstOrDefault();
            if (encryptedTo is null || !Convert.FromBase64String(encryptedTo).AsSpan().SequenceEqual(certificate.RawData))
            {
                throw new InvalidOperationException($"The Data Protection key {Path.GetFileName(file)} is encrypted with another certificate than the one in Ema:KeyEncryptionCertificatePath (thumbprint {certificate.Thumbprint}); configure the certificate it was encrypted with (changing the key-encryption certificate of an existing key ring is not supported).");
            }
        }

        if (certificate is not null && inClear > 0)
        {
            Log.UnencryptedDataProtectionKeys(logger, inClear, keysDirectory);
        }

        return Task.CompletedTask;
    }
}
