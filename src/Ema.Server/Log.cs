using Microsoft.Extensions.Logging;

namespace Ema.Server;

/// <summary>Log messages of Ema.Server (event ids 3000–3999). Never a token, secret or password: ids and jtis only.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Issued tokens for {GrantType} to client {ClientId}, subject {Subject}, jti {TokenId} (audit {AuditId})")]
    public static partial void TokenIssued(ILogger logger, string grantType, string clientId, string? subject, string? tokenId, string auditId);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Denied {GrantType} for client {ClientId}: {ErrorId} (audit {AuditId}) {Detail}")]
    public static partial void TokenRequestDenied(ILogger logger, string? grantType, string? clientId, string errorId, string auditId, string detail);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "The {GrantType} handler failed unexpectedly")]
    public static partial void GrantHandlerFailed(ILogger logger, Exception exception, string grantType);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "Audit record {AuditId} could not be written; the decision was not released")]
    public static partial void AuditWriteFailed(ILogger logger, Exception exception, string auditId);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "Sign-in {Outcome} for user {UserId} ({Reason})")]
    public static partial void SignIn(ILogger logger, string outcome, string? userId, string reason);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Refresh token reuse detected for family {FamilyId}; the family is revoked")]
    public static partial void RefreshTokenReuse(ILogger logger, string familyId);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Information, Message = "Created signing keys for {Purpose}: current {KeyId}")]
    public static partial void SigningKeysCreated(ILogger logger, string purpose, string keyId);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "Revocation request of client {ClientId}: {Outcome} {ErrorId}, refresh-token family {FamilyId} (audit {AuditId})")]
    public static partial void TokenRevocation(ILogger logger, string? clientId, string outcome, string? errorId, string? familyId, string auditId);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Error, Message = "A revocation request of client {ClientId} failed in the grant store; answered 503")]
    public static partial void TokenRevocationFailed(ILogger logger, Exception exception, string clientId);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Error, Message = "The policy in force (version {Version}) cannot be read: {Reason}. Every token exchange is refused until a valid version is imported or rolled back")]
    public static partial void PolicyUnreadable(ILogger logger, long version, string reason);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Error, Message = "The policy file {Path} cannot be read: {Reason}. Every token exchange is refused until it is fixed and the IdP restarted")]
    public static partial void PolicyFileUnreadable(ILogger logger, string path, string reason);
}
