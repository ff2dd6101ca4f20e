using Ema.Server.Audit;
using Ema.Storage;
using Ema.Storage.Stores;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ema.IntegrationTests.Audit;

/// <summary>The hash-chained audit trail on a real SQLite file: tampering is detected at the record where it happened.</summary>
public sealed class AuditChainTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ema-audit-").FullName;
    private SqliteDatabase _db = null!;
    private SqliteAuditLog _log = null!;

    private string DatabasePath => Path.Combine(_directory, "ema.db");

    public async Task InitializeAsync()
    {
        _db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = DatabasePath }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
        await _db.MigrateAsync(default);
        _log = new SqliteAuditLog(_db, new SqliteWriteQueue(_db, NullLogger<SqliteWriteQueue>.Instance));

        // Written concurrently, so they are group-committed in several batches: the chain must still be one line.
        await Task.WhenAll(Enumerable.Range(1, 50).Select(i => _log.WriteAsync(Event(i), default)));
    }

    public async Task DisposeAsync()
    {
        await _log.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task AuditChain_Untouched_VerifiesWithTheHeadHash()
    {
        var report = await _log.VerifyChainAsync(default);
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(50, report.Records);
        Assert.Matches("^[0-9a-f]{64}$", report.HeadHash);
        var last = (await _log.ReadAfterAsync(49, 10, default)).Single();
        Assert.Equal(report.HeadHash, last.Hash);
    }

    [Fact]
    public async Task AuditChain_EditedRecord_IsReportedAtThatRecord()
    {
        await SqlAsync("UPDATE audit_events SET outcome = 'granted', reason = NULL WHERE seq = 17"); // 17 was denied
        var report = await _log.VerifyChainAsync(default);
        Assert.Equal(17, report.FirstBrokenSequence);
        Assert.Contains("changed", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditChain_DeletedRecord_IsReportedWhereTheGapIs()
    {
        await SqlAsync("DELETE FROM audit_events WHERE seq = 23");
        var report = await _log.VerifyChainAsync(default);
        Assert.Equal(24, report.FirstBrokenSequence);
        Assert.Contains("missing", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditChain_ReorderedRecords_AreReported()
    {
        // Swap the contents of records 30 and 31 (keeping their sequence numbers and hashes where they were).
        await SqlAsync("""
            UPDATE audit_events SET id = 'tmp', seq = -1 WHERE seq = 30;
            UPDATE audit_events SET seq = 30 WHERE seq = 31;
            UPDATE audit_events SET seq = 31 WHERE seq = -1;
            UPDATE audit_events SET id = 'evt-30' WHERE id = 'tmp';
            """);
        var report = await _log.VerifyChainAsync(default);
        Assert.Equal(30, report.FirstBrokenSequence);
    }

    [Fact]
    public async Task AuditChain_RecordRewrittenWithARecomputedHash_BreaksTheNextLink()
    {
        // A forger who edits record 10 and recomputes its hash still breaks record 11's link to it.
        var forged = Event(10) with { Subject = "usr-someone-else" };
        var previous = (await _log.ReadAfterAsync(8, 1, default)).Single().Hash!;
        await SqlAsync($"UPDATE audit_events SET subject = 'usr-someone-else', hash = '{AuditChain.Hash(10, previous, forged)}' WHERE seq = 10");
        var report = await _log.VerifyChainAsync(default);
        Assert.Equal(11, report.FirstBrokenSequence);
        Assert.Contains("link", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditChain_ContinuesAfterReopening()
    {
        await _log.DisposeAsync();
        _log = new SqliteAuditLog(_db, new SqliteWriteQueue(_db, NullLogger<SqliteWriteQueue>.Instance));
        await _log.WriteAsync(Event(51), default);
        var report = await _log.VerifyChainAsync(default);
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(51, report.Records);
    }

    private static AuditEvent Event(int i) => new()
    {
        Id = "evt-" + i, Time = DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000 + i), Type = AuditEventTypes.TokenExchange,
        Outcome = i % 2 == 0 ? AuditOutcomes.Granted : AuditOutcomes.Denied, Reason = i % 2 == 0 ? null : "no entitlement matches",
        ClientId = "ema-agent", Subject = "usr-" + (i % 3), Resource = "https://127.0.0.1/mcp/tickets", Scope = "tickets.read", TokenId = "jti-" + i,
    };

    private async Task SqlAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
