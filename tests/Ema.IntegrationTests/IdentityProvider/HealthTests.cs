using System.Net;
using Ema.IntegrationTests.Infrastructure;
using Ema.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>Liveness and readiness for load balancers: a status word, never details, 503 when decisions would be refused.</summary>
[Collection(EmaServerCollection.Name)]
public sealed class HealthTests(EmaServerFixture server)
{
    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task Health_RunningHost_IsHealthy_Anonymous_NotCached_AndSaysNothingMore(string path)
    {
        using var response = await server.Http.GetAsync(server.BaseUrl + path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
        Assert.Contains("no-store", response.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readiness_AuditWriterThatCannotCommit_IsUnhealthy()
    {
        var folder = Directory.CreateTempSubdirectory("ema-health-").FullName;
        try
        {
            var db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = Path.Combine(folder, "ema.db") }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
            await db.MigrateAsync(default);
            var writer = new SqliteWriteQueue(db, NullLogger<SqliteWriteQueue>.Instance);
            var time = new Ema.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000));
            var check = new StorageHealthCheck(db, writer, time);
            Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);

            await writer.DisposeAsync(); // the writer is gone: every decision's audit record would be refused
            time.Advance(StorageHealthCheck.Reuse + TimeSpan.FromSeconds(1));
            var stopped = await check.CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Unhealthy, stopped.Status);
            Assert.Contains("audit writer cannot commit", stopped.Description, StringComparison.Ordinal);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Readiness_WhileAuditRecordsAreRefused_IsUnhealthy_AndHealthyAgainOnceTheyAreStored()
    {
        // An empty write would still commit on a full disk; the probe writes a row, and the newest batch of real writes counts.
        var folder = Directory.CreateTempSubdirectory("ema-health-").FullName;
        try
        {
            var db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = Path.Combine(folder, "ema.db") }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
            await db.MigrateAsync(default);
            var time = new Ema.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000));
            await using var writer = new SqliteWriteQueue(db, NullLogger<SqliteWriteQueue>.Instance);
            await using var log = new Ema.Storage.Stores.SqliteAuditLog(db, writer);
            var check = new StorageHealthCheck(db, writer, time);
            await SqlAsync(folder, "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_blocks BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
            await Assert.ThrowsAsync<Ema.Server.Audit.AuditUnavailableException>(() => log.WriteAsync(Record("evt-refused"), default));
            var refusing = await check.CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Unhealthy, refusing.Status);
            Assert.Contains("decisions are being refused", refusing.Description, StringComparison.Ordinal);

            await SqlAsync(folder, "DROP TRIGGER refuse_audit;");
            await log.WriteAsync(Record("evt-stored"), default);
            time.Advance(StorageHealthCheck.Reuse + TimeSpan.FromSeconds(1));
            Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Readiness_ManyCallers_ShareOneProbeASecond_SoTheAnonymousEndpointCannotQueueWrites()
    {
        var folder = Directory.CreateTempSubdirectory("ema-health-").FullName;
        try
        {
            var db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = Path.Combine(folder, "ema.db") }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
            await db.MigrateAsync(default);
            var time = new Ema.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000));
            await using var writer = new SqliteWriteQueue(db, NullLogger<SqliteWriteQueue>.Instance);
            var check = new StorageHealthCheck(db, writer, time);
            var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => check.CheckHealthAsync(new HealthCheckContext())));
            Assert.All(results, r => Assert.Equal(HealthStatus.Healthy, r.Status));
            Assert.Equal(1_790_000_000_000, await ProbedAtAsync(folder)); // one probe wrote

            time.Advance(TimeSpan.FromMilliseconds(500));
            await check.CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(1_790_000_000_000, await ProbedAtAsync(folder)); // reused within the second
            time.Advance(TimeSpan.FromSeconds(1));
            await check.CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(1_790_000_001_500, await ProbedAtAsync(folder)); // a new probe after it
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Ema.Server.Audit.AuditEvent Record(string id) => new()
    {
        Id = id, Time = DateTimeOffset.UnixEpoch, Type = Ema.Server.Audit.AuditEventTypes.TokenExchange, Outcome = Ema.Server.Audit.AuditOutcomes.Granted, Subject = "usr-x",
    };

    private static async Task SqlAsync(string folder, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(folder, "ema.db")};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ProbedAtAsync(string folder)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(folder, "ema.db")};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT probed_at FROM health_probe";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Readiness_DatabaseThatCannotBeRead_IsUnhealthy_WithoutItsPath()
    {
        // The database's folder is replaced by a file after start: the database can be neither created nor opened.
        var notAFolder = Path.Combine(Path.GetTempPath(), "ema-not-a-folder-" + Guid.NewGuid().ToString("N"));
        var db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = Path.Combine(notAFolder, "ema.db") }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
        Directory.Delete(notAFolder);
        await File.WriteAllTextAsync(notAFolder, "x");
        try
        {
            var check = new StorageHealthCheck(db, new SqliteWriteQueue(db, NullLogger<SqliteWriteQueue>.Instance), TimeProvider.System);
            var result = await check.CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Unhealthy, result.Status);
            Assert.DoesNotContain("ema-not-a-folder", result.Description, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(notAFolder);
        }
    }
}
