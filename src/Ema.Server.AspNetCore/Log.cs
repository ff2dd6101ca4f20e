using Microsoft.Extensions.Logging;

namespace Ema.Server.AspNetCore;

/// <summary>Log events of Ema.Server.AspNetCore (stable ids 5000–5999).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "{Count} Data Protection key(s) in {Directory} were written before key encryption was configured and stay in clear at rest (Data Protection keeps expired keys to read what they protected); a data folder created with key encryption configured holds none")]
    public static partial void UnencryptedDataProtectionKeys(ILogger logger, int count, string directory);
}
