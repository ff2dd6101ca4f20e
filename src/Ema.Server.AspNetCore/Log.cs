using Microsoft.Extensions.Logging;

namespace Ema.Server.AspNetCore;

/// <summary>Log events of Ema.Server.AspNetCore (stable ids 5000–5999).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "{Count} Data Protection key(s) in {Directory} were written before key encryption was configured and stay unencrypted at rest until they expire; a new key ring (a new data folder) starts fully encrypted")]
    public static partial void UnencryptedDataProtectionKeys(ILogger logger, int count, string directory);
}
