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
            var check = new StorageHealthCheck(db, writer, TimeProvider.System);
            Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);

            await writer.DisposeAsync(); // the writer is gone: every decision's audit record would be refused
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
