using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Ema.Storage;

/// <summary>
/// Readiness of the storage every decision depends on: the database answers a read; the group-commit writer — which makes
/// each decision's audit record durable before the answer — gets a real write (one row) to disk; and the newest batch of
/// real writes did not fail. Any of these failing means token requests are being refused (EMA3115), so the instance should
/// take no traffic. Says what failed, never a path or a record. One probe runs at a time and its answer is reused for a
/// second: callers of the anonymous endpoint cannot queue writes faster than that.
/// </summary>
public sealed class StorageHealthCheck(SqliteDatabase db, SqliteWriteQueue writer, TimeProvider time) : IHealthCheck
{
    /// <summary>How long each probe may take before the instance counts as not ready.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(4);

    /// <summary>How long a probe's answer is reused.</summary>
    public static readonly TimeSpan Reuse = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private (DateTimeOffset At, Task<HealthCheckResult> Probe)? _last;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        Task<HealthCheckResult> probe;
        lock (_lock)
        {
            var now = time.GetUtcNow();
            if (_last is { } last && (!last.Probe.IsCompleted || now - last.At < Reuse))
            {
                probe = last.Probe; // one in flight, or answered within the last second
            }
            else
            {
                probe = ProbeAsync(now);
                _last = (now, probe);
            }
        }

        return probe.WaitAsync(cancellationToken);
    }

    private async Task<HealthCheckResult> ProbeAsync(DateTimeOffset now)
    {
        try
        {
            await db.RunAsync(c => c.ExecuteScalarAsync<long>("SELECT 1"), CancellationToken.None).WaitAsync(Timeout, time).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SqliteException or TimeoutException or IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy(ex is TimeoutException ? "the database did not answer in time" : "the database cannot be read");
        }

        try
        {
            // Not cancellable once queued (the queue's rule); waited for at most Timeout.
            await writer.ProbeAsync(now.ToUnixTimeMilliseconds()).WaitAsync(Timeout, time).ConfigureAwait(false);
        }
        catch (GroupCommitException)
        {
            return HealthCheckResult.Unhealthy("the audit writer cannot commit: decisions would be refused");
        }
        catch (TimeoutException)
        {
            return HealthCheckResult.Unhealthy("the audit writer did not commit in time");
        }

        return writer.IsFailing
            ? HealthCheckResult.Unhealthy("the newest batch of audit records failed: decisions are being refused")
            : HealthCheckResult.Healthy("the database reads and the audit writer commits");
    }
}
