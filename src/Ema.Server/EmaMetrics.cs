using System.Diagnostics.Metrics;

namespace Ema.Server;

/// <summary>
/// Ema's metrics (meter <c>Ema</c>; read them with <c>dotnet-counters monitor --counters Ema</c> or any OpenTelemetry
/// exporter the host adds): token requests by role, grant type, outcome and error id, and the audit's group commits.
/// Tag values come from fixed sets only — a grant type the server does not know is counted as <c>other</c> — so no
/// caller can grow the series, and no tag is ever a token, a client id or a user.
/// </summary>
public sealed class EmaMetrics
{
    public const string MeterName = "Ema";

    private readonly Counter<long> _tokenRequests;
    private readonly Histogram<long> _auditCommitRecords;
    private readonly Counter<long> _auditCommitFailures;

    public EmaMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _tokenRequests = meter.CreateCounter<long>("ema.token.requests", "{request}", "Token requests answered, by role, grant type, outcome and error id.");
        _auditCommitRecords = meter.CreateHistogram<long>("ema.audit.commit.writes", "{write}", "Writes (audit records and replay records) made durable by one group commit.");
        _auditCommitFailures = meter.CreateCounter<long>("ema.audit.commit.failures", "{commit}", "Group commits that failed: their decisions were refused.");
    }

    /// <summary>One answered token request; <paramref name="grantType"/> must be one the endpoint knows, or null.</summary>
    public void TokenRequest(string role, string? grantType, bool granted, string? errorId) =>
        _tokenRequests.Add(
            1,
            new KeyValuePair<string, object?>("ema.role", role),
            new KeyValuePair<string, object?>("oauth.grant_type", grantType ?? "other"),
            new KeyValuePair<string, object?>("ema.outcome", granted ? "granted" : "denied"),
            new KeyValuePair<string, object?>("ema.error_id", errorId ?? string.Empty));

    public void AuditCommit(int writes) => _auditCommitRecords.Record(writes);

    public void AuditCommitFailed() => _auditCommitFailures.Add(1);
}
