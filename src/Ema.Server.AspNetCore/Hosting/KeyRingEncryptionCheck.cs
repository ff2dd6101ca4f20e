using Microsoft.Extensions.Logging;

namespace Ema.Server.AspNetCore.Hosting;

/// <summary>
/// With key encryption configured, says at start-up whether the key ring still holds keys written before it was (Data
/// Protection keeps reading them, and they stay in clear until they expire — 90 days by default).
/// </summary>
internal sealed class KeyRingEncryptionCheck(string keysDirectory, ILogger<KeyRingEncryptionCheck> logger) : IStartupTask
{
    public int Order => 90; // before the signing keys (100) are read

    public Task RunAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(keysDirectory))
        {
            return Task.CompletedTask;
        }

        // An encrypted key's XML holds <encryptedSecret>; a key in clear holds its secret in <masterKey><value>.
        var unencrypted = Directory.EnumerateFiles(keysDirectory, "key-*.xml")
            .Count(f => !File.ReadAllText(f).Contains("<encryptedSecret", StringComparison.Ordinal));
        if (unencrypted > 0)
        {
            Log.UnencryptedDataProtectionKeys(logger, unencrypted, keysDirectory);
        }

        return Task.CompletedTask;
    }
}
