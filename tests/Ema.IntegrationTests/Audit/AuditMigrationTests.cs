using Ema.Server.Audit;
using Ema.Storage;
using Ema.Storage.Stores;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ema.IntegrationTests.Audit;

/// <summary>
/// Migration 0007 moves an existing data folder's audit records (one row each, schema 0001 + 0003) into blocks: nothing
/// is lost, the old hashes still verify, and new records chain on from the last old one.
/// </summary>
public sealed class AuditMigrationTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ema-audit-migration-").FullName;

    private string DatabasePath => Path.Combine(_directory, "ema.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Migration0007_MovesRowRecordsIntoBlocks_AndTheChainStillVerifies()
    {
        var db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = DatabasePath }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
        await db.MigrateAsync(default);

        // Put the database back at schema 6 with three records in the old layout: one from before the chain existed,
        // then two chained ones (the chain starts at the genesis value after the unchained record).
        var legacy = new[]
        {
            Event(1, "jti-legacy-1", "usr-ann"),
            Event(2, "jti-legacy-2", "usr-bob") with { Reason = "quote \" and ünïcode", Outcome = AuditOutcomes.Denied },
            Event(3, "jti-legacy-3", "usr-ann"),
        };
        var hash2 = AuditChain.Hash(2, AuditChain.Genesis, legacy[1]);
        var hash3 = AuditChain.Hash(3, hash2, legacy[2]);
        await using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                DROP TABLE audit_blocks;
                DROP INDEX ix_sessions_user;
                DELETE FROM schema_version WHERE version IN (7, 14);
                CREATE TABLE audit_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, time BIGINT NOT NULL, type TEXT NOT NULL,
                    outcome TEXT NOT NULL, action TEXT NULL, error_id TEXT NULL, reason TEXT NULL, client_id TEXT NULL, subject TEXT NULL, resource TEXT NULL,
                    audience TEXT NULL, scope TEXT NULL, token_id TEXT NULL, parent_token_id TEXT NULL, session_id TEXT NULL, remote_address TEXT NULL,
                    prev_hash TEXT NULL, hash TEXT NULL);
                """;
            await command.ExecuteNonQueryAsync();
            var rows = new (AuditEvent Event, string? Previous, string? Hash)[] { (legacy[0], null, null), (legacy[1], AuditChain.Genesis, hash2), (legacy[2], hash2, hash3) };
            foreach (var (e, previous, hash) in rows)
            {
                await using var insert = connection.CreateCommand();
                insert.CommandText = "INSERT INTO audit_events (id, time, type, outcome, reason, client_id, subject, token_id, prev_hash, hash) VALUES ($id, $time, $type, $outcome, $reason, $client, $subject, $token, $prev, $hash)";
                insert.Parameters.AddWithValue("$id", e.Id);
                insert.Parameters.AddWithValue("$time", e.Time.ToUnixTimeMilliseconds());
                insert.Parameters.AddWithValue("$type", e.Type);
                insert.Parameters.AddWithValue("$outcome", e.Outcome);
                insert.Parameters.AddWithValue("$reason", (object?)e.Reason ?? DBNull.Value);
                insert.Parameters.AddWithValue("$client", e.ClientId);
                insert.Parameters.AddWithValue("$subject", e.Subject);
                insert.Parameters.AddWithValue("$token", e.TokenId);
                insert.Parameters.AddWithValue("$prev", (object?)previous ?? DBNull.Value);
                insert.Parameters.AddWithValue("$hash", (object?)hash ?? DBNull.Value);
                await insert.ExecuteNonQueryAsync();
            }
        }

        SqliteConnection.ClearAllPools();
        await db.MigrateAsync(default);
        var log = new SqliteAuditLog(db, new SqliteWriteQueue(db, NullLogger<SqliteWriteQueue>.Instance));
        await using (log)
        {
            var report = await log.VerifyChainAsync(default);
            Assert.True(report.Intact, report.Problem);
            Assert.Equal(3, report.Records);
            Assert.Equal(hash3, report.HeadHash);
            Assert.Equal(legacy.Reverse().Select(e => e.Id), (await log.ListAsync(new AuditQuery(), default)).Select(e => e.Id));
            Assert.Equal(legacy[1], Assert.Single(await log.ListAsync(new AuditQuery { TokenId = "jti-legacy-2" }, default)));

            await log.WriteAsync(Event(4, "jti-new-4", "usr-ann"), default);
            var after = await log.ReadAfterAsync(3, 10, default);
            Assert.Equal(AuditChain.Hash(4, hash3, Event(4, "jti-new-4", "usr-ann")), Assert.Single(after).Hash);
            Assert.True((await log.VerifyChainAsync(default)).Intact);
            Assert.Equal(["evt-4", "evt-3", "evt-1"], (await log.ListAsync(new AuditQuery { Subject = "usr-ann" }, default)).Select(e => e.Id));
        }

        // A kept export covers the record from before the chain too: compared line for line, it has no hash to compare.
        // Sealed from the next record by the operator (a trail from before seals has no key file to check them with).
        Assert.Equal(0, (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "reseal", "--data", _directory)).Code);
        var kept = Path.Combine(_directory, "kept.jsonl");
        Assert.Equal(0, (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "export", "--data", _directory, "--out", kept)).Code);
        var intact = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--against", kept);
        Assert.True(intact.Code == 0, intact.Err);
        Assert.Contains("4 records of the export matched", intact.Out, StringComparison.Ordinal);

        SqliteConnection.ClearAllPools();
        await AuditTamper.EditAsync(DatabasePath, 1, line =>
        {
            line[AuditTamper.Subject] = "usr-eve"; // outside the chain: verify alone cannot see it
            return line;
        });
        Assert.Equal(0, (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory)).Code);
        var edited = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--against", kept);
        Assert.Equal(1, edited.Code);
        Assert.Contains("record #1 differs from the exported copy", edited.Err, StringComparison.Ordinal);

        await File.WriteAllTextAsync(kept, "\n\n");
        Assert.Contains("holds no exported audit record", (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--against", kept)).Err, StringComparison.Ordinal);
    }

    private static AuditEvent Event(int i, string tokenId, string subject) => new()
    {
        Id = "evt-" + i, Time = DateTimeOffset.FromUnixTimeMilliseconds(1_780_000_000_000 + i), Type = AuditEventTypes.TokenExchange,
        Outcome = AuditOutcomes.Granted, ClientId = "ema-agent", Subject = subject, TokenId = tokenId,
    };
}
