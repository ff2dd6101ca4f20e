namespace Ema.Server.Audit;

/// <summary>Audit event types.</summary>
public static class AuditEventTypes
{
    public const string SignIn = "signin";
    public const string SignOut = "signout";
    public const string TokenRequest = "token";
    public const string TokenExchange = "token_exchange";
    public const string JwtBearer = "jwt_bearer";

    /// <summary>A token revocation request at the IdP (RFC 7009).</summary>
    public const string TokenRevocation = "token_revocation";

    /// <summary>An MCP <c>tools/call</c> at a protected server: its parent is the access token's <c>jti</c>.</summary>
    public const string McpToolCall = "mcp_call";
    public const string AdminChange = "admin";

    /// <summary>What the audit trail found about itself (a head mark gone at start, sealing restarted): kept in the
    /// trail, sealed like any record, and listed by verification as warnings.</summary>
    public const string AuditIntegrity = "audit_integrity";
}

/// <summary>Actions of <see cref="AuditEventTypes.AuditIntegrity"/> records.</summary>
public static class AuditIntegrityActions
{
    /// <summary>The first record sealed by a key made with <c>ema audit reseal</c>.</summary>
    public const string SealingStarted = "sealing_started";

    /// <summary>A process started and found the head mark missing, unreadable or not verifiable.</summary>
    public const string HeadMarkNotValid = "head_mark_not_valid";
}

/// <summary>Audit outcomes.</summary>
public static class AuditOutcomes
{
    public const string Granted = "granted";
    public const string Denied = "denied";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

/// <summary>Values for audit records that came from an unauthenticated request, cut to a size a record should hold.</summary>
public static class AuditValues
{
    /// <summary>The longest untrusted value kept, in characters.</summary>
    public const int MaxUntrustedLength = 256;

    /// <summary>
    /// <paramref name="value"/>, or its first <see cref="MaxUntrustedLength"/> characters and "…": a request that failed
    /// authentication must not be able to write a record of the size of its form.
    /// </summary>
    public static string? Untrusted(string? value) =>
        value is { Length: > MaxUntrustedLength } ? string.Concat(value.AsSpan(0, MaxUntrustedLength), "…") : value;
}

/// <summary>
/// One decision, recorded once (style rule 9). Carries correlation ids (<c>jti</c>, client, subject, resource, decision
/// id), never a token, secret or password.
/// </summary>
public sealed record AuditEvent
{
    /// <summary>Event id (the decision id of token decisions).</summary>
    public required string Id { get; init; }

    public required DateTimeOffset Time { get; init; }

    /// <summary>One of <see cref="AuditEventTypes"/>.</summary>
    public required string Type { get; init; }

    /// <summary>One of <see cref="AuditOutcomes"/>.</summary>
    public required string Outcome { get; init; }

    /// <summary>Grant type or action detail (for example the <c>grant_type</c>).</summary>
    public string? Action { get; init; }

    /// <summary>Stable error id of a refusal.</summary>
    public string? ErrorId { get; init; }

    /// <summary>Human-readable reason (safe to show).</summary>
    public string? Reason { get; init; }

    public string? ClientId { get; init; }

    /// <summary>User id (subject).</summary>
    public string? Subject { get; init; }

    public string? Resource { get; init; }

    public string? Audience { get; init; }

    /// <summary>Granted or requested scopes.</summary>
    public string? Scope { get; init; }

    /// <summary><c>jti</c> of the token issued (or presented, for refusals).</summary>
    public string? TokenId { get; init; }

    /// <summary><c>jti</c> of an upstream token this decision consumed (for example the ID-JAG behind an access token).</summary>
    public string? ParentTokenId { get; init; }

    public string? SessionId { get; init; }

    public string? RemoteAddress { get; init; }
}

/// <summary>Durable audit storage.</summary>
public interface IAuditSink
{
    /// <summary>Stores the event durably; returns only once it is on disk (the caller then answers the request).</summary>
    /// <exception cref="AuditUnavailableException">The event could not be stored.</exception>
    Task WriteAsync(AuditEvent auditEvent, CancellationToken cancellationToken);
}

/// <summary>Thrown when an audit record cannot be stored; the decision it records must then not take effect.</summary>
public sealed class AuditUnavailableException : Exception
{
    public AuditUnavailableException()
    {
    }

    public AuditUnavailableException(string message)
        : base(message)
    {
    }

    public AuditUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A stored record that cannot be read back (its text was edited): reading the trail in order stops there rather than
/// skip it, so an export for a SIEM never lacks a record silently. <c>ema audit verify</c> names the record.
/// </summary>
public sealed class AuditTrailUnreadableException : Exception
{
    public AuditTrailUnreadableException()
    {
    }

    public AuditTrailUnreadableException(string message)
        : base(message)
    {
    }

    public AuditTrailUnreadableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Reads audit events back (console, CLI, tests).</summary>
public interface IAuditReader
{
    Task<IReadOnlyList<AuditEvent>> ListAsync(AuditQuery query, CancellationToken cancellationToken);
}

/// <summary>
/// The trail as a chain, in sequence order: what a SIEM export, a tail and a verification read (<c>ema audit</c> on the
/// data folder, and the admin API's <c>/audit/records</c> and <c>/audit/verify</c> for a running IdP).
/// </summary>
public interface IAuditTrail
{
    /// <summary>At most <paramref name="limit"/> records after <paramref name="afterSequence"/>, in order, with their hashes.</summary>
    Task<IReadOnlyList<(long Sequence, string? Hash, AuditEvent Event)>> ReadAfterAsync(long afterSequence, int limit, CancellationToken cancellationToken);

    /// <summary>The sequence number of the newest record (0 when there is none); not a count: records migrated from before the chain may leave gaps.</summary>
    Task<long> LastSequenceAsync(CancellationToken cancellationToken);

    /// <summary>Recomputes the chain from the first record and reports the first one that breaks it.</summary>
    Task<AuditChainReport> VerifyChainAsync(CancellationToken cancellationToken);
}

/// <summary>Reads of <see cref="IAuditTrail"/> built on its members.</summary>
public static class AuditTrailExtensions
{
    /// <summary>The newest <paramref name="count"/> records, in order (a tail): counted back from the last sequence number.</summary>
    public static async Task<IReadOnlyList<(long Sequence, string? Hash, AuditEvent Event)>> ReadNewestAsync(this IAuditTrail trail, int count, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(trail);
        var last = await trail.LastSequenceAsync(cancellationToken).ConfigureAwait(false);
        return await trail.ReadAfterAsync(Math.Max(0, last - count), count, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Filter for <see cref="IAuditReader"/>.</summary>
public sealed record AuditQuery
{
    public string? Subject { get; init; }

    public string? ClientId { get; init; }

    public string? Resource { get; init; }

    public string? Outcome { get; init; }

    public string? TokenId { get; init; }

    public DateTimeOffset? Since { get; init; }

    /// <summary>Records before this time only.</summary>
    public DateTimeOffset? Until { get; init; }

    /// <summary>One of <see cref="AuditEventTypes"/>.</summary>
    public string? Type { get; init; }

    /// <summary>The record's action (for example a grant type).</summary>
    public string? Action { get; init; }

    public int Limit { get; init; } = 100;
}
