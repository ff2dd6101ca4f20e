using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Ema.Storage;

/// <summary>
/// Readiness of the storage every decision depends on: the database answers a read, and the group-commit writer — which
/// makes each decision's audit record durable before the answer — takes an (empty) write and commits it. Either failing
/// means token requests would be refused (EMA3115), so the instance should take no traffic. Says what failed, never a
/// path or a record.
/// </summary>
public sealed class StorageHealthCheck(SqliteDatabase db, SqliteWriteQueue writer, TimeProvider time) : IHealthCheck
{
    /// <summary>How long each probe may take before the instance counts as not ready.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await db.RunAsync(c => c.ExecuteScalarAsync<long>("SELECT 1"), cancellationToken).WaitAsync(Timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SqliteException or TimeoutException or IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy(ex is TimeoutException ? "the database did not answer in time" : "the database cannot be read");
        }

        try
        {
            // Not cancellable once queued (the queue's rule); waited for at most Timeout.
            await writer.WriteAsync((_, _) => Task.FromResult(true), CancellationToken.None).WaitAsync(Timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (GroupCommitException)
        {
            return HealthCheckResult.Unhealthy("the audit writer cannot commit: decisions would be refused");
        }
        catch (TimeoutException)
        {
            return HealthCheckResult.Unhealthy("the audit writer did not commit in time");
        }

        return HealthCheckResult.Healthy("the database reads and the audit writer commits");
    }
}
