using Microsoft.Extensions.Logging;

namespace Ema.Tokens;

/// <summary>Log messages of Ema.Tokens (event ids 2000–2999). Never a token, secret or key; the <c>jti</c> at most.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Fetching the signing keys of {Issuer} failed: {Reason}; keeping the last good keys")]
    public static partial void JwksFetchFailed(ILogger logger, string issuer, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Rejected ID-JAG {Jti} from {Issuer}: {ErrorId} {Reason}")]
    public static partial void IdJagRejected(ILogger logger, string? jti, string? issuer, string errorId, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "Accepted ID-JAG {Jti} from {Issuer} for client {ClientId}")]
    public static partial void IdJagAccepted(ILogger logger, string jti, string issuer, string clientId);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Rejected access token {Jti}: {ErrorId} {Reason}")]
    public static partial void AccessTokenRejected(ILogger logger, string? jti, string errorId, string reason);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "Signing keys rotated: current {CurrentKeyId}, next {NextKeyId}")]
    public static partial void KeysRotated(ILogger logger, string currentKeyId, string nextKeyId);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "The replay cache is full ({Count} entries); refusing assertions until entries expire")]
    public static partial void ReplayCacheFull(ILogger logger, int count);
}
