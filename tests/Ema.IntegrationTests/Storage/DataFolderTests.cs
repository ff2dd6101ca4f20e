using Ema.Server.Audit;
using Ema.Storage;
using Ema.Storage.Stores;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ema.IntegrationTests.Storage;

/// <summary>The data folder and the database hold password and secret hashes, encrypted keys and personal data.</summary>
public sealed class DataFolderTests : IDisposable
{
    private readonly string _parent = Directory.CreateTempSubdirectory("ema-folder-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_parent, recursive: true);
    }

    [Fact]
    public async Task DataFolder_CreatedByEma_IsReadableByItsOwnerOnly_AndSoAreTheDatabaseAndItsWalAndSharedMemoryFiles()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // POSIX modes only
        }

        var folder = Path.Combine(_parent, "data");
        var path = Path.Combine(folder, "ema.db");
        var db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = path }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
        await db.MigrateAsync(default);
        var log = new SqliteAuditLog(db, new SqliteWriteQueue(db, NullLogger<SqliteWriteQueue>.Instance));
        await using (log)
        {
            await log.WriteAsync(new AuditEvent { Id = "evt-1", Time = DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000), Type = AuditEventTypes.TokenExchange, Outcome = AuditOutcomes.Granted, Subject = "usr-1" }, default);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                Assert.True(File.Exists(file), file);
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }
    }
}
