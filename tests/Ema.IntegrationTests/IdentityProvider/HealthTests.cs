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
        await using var storage = await Storage.CreateAsync();
        Assert.Equal(HealthStatus.Healthy, (await storage.Check.CheckHealthAsync(new HealthCheckContext())).Status);

        await storage.Writer.DisposeAsync(); // the writer is gone: every decision's audit record would be refused
        storage.Time.Advance(StorageHealthCheck.Reuse + TimeSpan.FromSeconds(1));
        var stopped = await storage.Check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, stopped.Status);
        Assert.Contains("audit writer cannot commit", stopped.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readiness_WhileAuditRecordsAreRefused_IsUnhealthy_AndHealthyAgainOnceTheyAreStored()
    {
        // An empty write would still commit on a full disk; the probe writes a row, and the newest batch of real writes counts.
        await using var storage = await Storage.CreateAsync();
        await using var log = new Ema.Storage.Stores.SqliteAuditLog(storage.Db, storage.Writer);
        await storage.SqlAsync("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_blocks BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
        await Assert.ThrowsAsync<Ema.Server.Audit.AuditUnavailableException>(() => log.WriteAsync(Record("evt-refused"), default));
        var refusing = await storage.Check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, refusing.Status);
        Assert.Contains("decisions are being refused", refusing.Description, StringComparison.Ordinal);

        await storage.SqlAsync("DROP TRIGGER refuse_audit;");
        await log.WriteAsync(Record("evt-stored"), default);
        storage.Time.Advance(StorageHealthCheck.Reuse + TimeSpan.FromSeconds(1));
        Assert.Equal(HealthStatus.Healthy, (await storage.Check.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    [Fact]
    public async Task Readiness_ManyCallers_ShareOneProbeASecond_SoTheAnonymousEndpointCannotQueueWrites()
    {
        await using var storage = await Storage.CreateAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => storage.Check.CheckHealthAsync(new HealthCheckContext())));
        Assert.All(results, r => Assert.Equal(HealthStatus.Healthy, r.Status));
        Assert.Equal(1_790_000_000_000, await storage.ProbedAtAsync()); // one probe wrote

        storage.Time.Advance(TimeSpan.FromMilliseconds(500));
        await storage.Check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(1_790_000_000_000, await storage.ProbedAtAsync()); // reused within the second
        storage.Time.Advance(TimeSpan.FromSeconds(1));
        await storage.Check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(1_790_000_001_500, await storage.ProbedAtAsync()); // a new probe after it
    }

    private static Ema.Server.Audit.AuditEvent Record(string id) => new()
    {
        Id = id, Time = DateTimeOffset.UnixEpoch, Type = Ema.Server.Audit.AuditEventTypes.TokenExchange, Outcome = Ema.Server.Audit.AuditOutcomes.Granted, Subject = "usr-x",
    };

    [Fact]
    public async Task Readiness_DatabaseThatCannotBeRead_IsUnhealthy_WithoutItsPath()
    {
        // The database's folder is replaced by a file after start: the database can be neither created nor opened.
        var notAFolder = Path.Combine(Path.GetTempPath(), "ema-not-a-folder-" + Guid.NewGuid().ToString("N"));
        var db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = Path.Combine(notAFolder, "ema.db") }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
        Directory.Delete(notAFolder, recursive: true); // with the empty database file the constructor made
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

    /// <summary>A migrated database in a folder of its own, its write queue and readiness check on a fake clock.</summary>
    private sealed class Storage : IAsyncDisposable
    {
        private readonly TemporaryFolder _folder = new("ema-health-");

        private Storage()
        {
            Directory.CreateDirectory(_folder.Path);
            Db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = DatabasePath }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
            Writer = new SqliteWriteQueue(Db, NullLogger<SqliteWriteQueue>.Instance);
            Check = new StorageHealthCheck(Db, Writer, Time);
        }

        public SqliteDatabase Db { get; }

        public SqliteWriteQueue Writer { get; }

        public Ema.Testing.FakeTimeProvider Time { get; } = new(DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000));

        public StorageHealthCheck Check { get; }

        private string DatabasePath => Path.Combine(_folder.Path, "ema.db");

        public static async Task<Storage> CreateAsync()
        {
            var storage = new Storage();
            await storage.Db.MigrateAsync(default);
            return storage;
        }

        public async Task SqlAsync(string sql)
        {
            await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            await command.ExecuteNonQueryAsync();
        }

        public async Task<long> ProbedAtAsync()
        {
            await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT probed_at FROM health_probe";
            return (long)(await command.ExecuteScalarAsync())!;
        }

        public async ValueTask DisposeAsync()
        {
            await Writer.DisposeAsync();
            SqliteConnection.ClearAllPools();
            _folder.Dispose();
        }
    }
}
