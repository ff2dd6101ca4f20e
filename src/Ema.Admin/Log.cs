using Microsoft.Extensions.Logging;

namespace Ema.Admin;

/// <summary>Log messages of Ema.Admin (event ids 6000–6999). Never a token, secret or password: ids and jtis only.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Console sign-in for user {UserId} ({Amr}), ID token jti {TokenId}")]
    public static partial void ConsoleSignedIn(ILogger logger, string userId, string amr, string tokenId);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Console sign-in refused: {ErrorId} (audit {AuditId})")]
    public static partial void ConsoleSignInRefused(ILogger logger, string auditId, string errorId);

    // The token itself is never logged: its jti is in the debug text.
    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Admin API bearer token refused: {ErrorId} ({Debug})")]
    public static partial void AdminBearerRefused(ILogger logger, string errorId, string debug);
}
