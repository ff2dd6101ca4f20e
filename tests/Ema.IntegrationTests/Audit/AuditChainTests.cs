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

        // Written concurrently in groups, so they are group-committed in blocks of several records (and tampering happens
        // inside a block as well as at its edges): the chain must still be one line.
        for (var group = 0; group < 5; group++)
        {
            await Task.WhenAll(Enumerable.Range((group * 10) + 1, 10).Select(i => _log.WriteAsync(Event(i), default)));
        }
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
        await AuditTamper.EditAsync(DatabasePath, 17, line => // 17 was denied
        {
            line[AuditTamper.Outcome] = "granted";
            line[AuditTamper.Reason] = null;
            return line;
        });
        var report = await _log.VerifyChainAsync(default);
        Assert.Equal(17, report.FirstBrokenSequence);
        Assert.Contains("changed", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditChain_DeletedRecord_IsReportedWhereTheGapIs()
    {
        await AuditTamper.EditAsync(DatabasePath, 23, _ => null);
        var report = await _log.VerifyChainAsync(default);
        Assert.Equal(24, report.FirstBrokenSequence);
        Assert.Contains("missing", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditChain_ReorderedRecords_AreReported()
    {
        // Swap the contents of records 30 and 31, keeping the sequence numbers where they were.
        await AuditTamper.SwapContentsAsync(DatabasePath, 30, 31);
        var report = await _log.VerifyChainAsync(default);
        Assert.Equal(30, report.FirstBrokenSequence);
    }

    [Fact]
    public async Task AuditChain_RecordRewrittenWithARecomputedHash_BreaksTheNextLink()
    {
        // A forger who edits record 10 and recomputes its hash still breaks record 11's link to it.
        var forged = Event(10) with { Subject = "usr-someone-else" };
        var previous = (await _log.ReadAfterAsync(8, 1, default)).Single().Hash!;
        await AuditTamper.EditAsync(DatabasePath, 10, line =>
        {
            line[AuditTamper.Subject] = "usr-someone-else";
            line[AuditTamper.Hash] = AuditChain.Hash(10, previous, forged);
            return line;
        });
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

    [Theory]
    [InlineData("key_filter = zeroblob(length(key_filter))")] // would hide the block's records from searches by user or token
    [InlineData("max_time = min_time - 1")]                    // would hide them from time-window searches
    [InlineData("record_count = record_count + 1, last_seq = last_seq + 1")]
    public async Task AuditChain_EditedBlockIndexData_IsReportedAtTheBlock(string edit)
    {
        await SqlAsync($"UPDATE audit_blocks SET {edit} WHERE first_seq = (SELECT first_seq FROM audit_blocks WHERE first_seq <= 25 AND last_seq >= 25)");
        var report = await _log.VerifyChainAsync(default);
        Assert.False(report.Intact);
        Assert.InRange(report.FirstBrokenSequence!.Value, 21, 25);
        Assert.Contains("index data of its block", report.Problem, StringComparison.Ordinal);
        Assert.Equal(50, report.Records);
    }

    [Fact]
    public async Task AuditChain_InsertedRecordWithoutHash_IsReported()
    {
        // Unhashed records are legal only as the migrated run before the chain began; one slipped in later is forged —
        // and would otherwise show in searches and exports while the chain and its head hash still verified.
        var head = (await _log.VerifyChainAsync(default)).HeadHash;
        var forged = (System.Text.Json.Nodes.JsonArray)System.Text.Json.Nodes.JsonNode.Parse(
            "[15,null,\"evt-forged\",1790000000015,\"token_exchange\",\"granted\",null,null,null,\"ema-agent\",\"usr-framed\",null,null,null,\"jti-forged\",null,null,null,null]")!;
        await AuditTamper.InsertAfterAsync(DatabasePath, 15, forged);
        var report = await _log.VerifyChainAsync(default);
        Assert.False(report.Intact);
        Assert.Equal(15, report.FirstBrokenSequence);
        Assert.Contains("no hash", report.Problem, StringComparison.Ordinal);
        Assert.NotEqual(head, report.HeadHash);
    }

    [Fact]
    public async Task AuditChain_InsertedUnhashedLineInsideABlock_IsReported()
    {
        await AuditTamper.EditAsync(DatabasePath, 20, line =>
        {
            line[AuditTamper.Hash] = null;
            line[1] = null;
            return line;
        });
        var report = await _log.VerifyChainAsync(default);
        Assert.Equal(20, report.FirstBrokenSequence);
    }

    [Fact]
    public async Task AuditList_BlockTimeStoredAsAnotherType_StillFound_AndVerifyReportsIt()
    {
        await SqlAsync("UPDATE audit_blocks SET min_time = CAST(CAST(min_time AS TEXT) AS BLOB)");
        var window = await _log.ListAsync(new AuditQuery { Until = Event(4).Time }, default);
        Assert.Equal(["evt-3", "evt-2", "evt-1"], window.Select(e => e.Id));
        Assert.Contains("index data of its block", (await _log.VerifyChainAsync(default)).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditList_SinceWithSubMillisecondPrecision_IncludesThatMillisecond_AndLimitZeroMeansAll()
    {
        var since = Event(48).Time.AddTicks(5_000); // 0.5 ms into record 48's millisecond
        Assert.Equal(["evt-50", "evt-49", "evt-48"], (await _log.ListAsync(new AuditQuery { Since = since }, default)).Select(e => e.Id));
        Assert.Equal(50, (await _log.ListAsync(new AuditQuery { Limit = 0 }, default)).Count);
        Assert.Equal(50, (await _log.ReadAfterAsync(0, -1, default)).Count);
    }

    [Fact]
    public async Task AuditList_LoneSurrogate_IsStoredAsReplacementCharacter_FoundAndVerified()
    {
        await _log.WriteAsync(Event(51) with { Subject = "usr-\ud800-x" }, default);
        Assert.True((await _log.VerifyChainAsync(default)).Intact);
        Assert.Equal("evt-51", Assert.Single(await _log.ListAsync(new AuditQuery { Subject = "usr-\ufffd-x" }, default)).Id);
    }

    [Fact]
    public async Task WriteQueue_FailingLogger_DoesNotStopTheWriter()
    {
        await _log.DisposeAsync();
        var queue = new SqliteWriteQueue(_db, new ThrowingLogger());
        _log = new SqliteAuditLog(_db, queue);
        await SqlAsync("ALTER TABLE audit_blocks RENAME TO audit_blocks_away");
        var first = _log.WriteAsync(Event(51), default);
        await Assert.ThrowsAsync<AuditUnavailableException>(() => first.WaitAsync(TimeSpan.FromSeconds(30)));
        await SqlAsync("ALTER TABLE audit_blocks_away RENAME TO audit_blocks");
        await _log.WriteAsync(Event(51), default).WaitAsync(TimeSpan.FromSeconds(30)); // the writer is still there
        Assert.True((await _log.VerifyChainAsync(default)).Intact);
    }

    private sealed class ThrowingLogger : Microsoft.Extensions.Logging.ILogger<SqliteWriteQueue>
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new InvalidOperationException("the log sink is down");
    }

    [Fact]
    public async Task AuditChain_TwoLogsOnOneWriteQueue_DoNotForkTheChain()
    {
        await _log.DisposeAsync();
        var queue = new SqliteWriteQueue(_db, NullLogger<SqliteWriteQueue>.Instance);
        var first = new SqliteAuditLog(_db, queue);
        var second = new SqliteAuditLog(_db, queue);
        _log = first;
        await Task.WhenAll(Enumerable.Range(51, 100).Select(i => (i % 2 == 0 ? first : second).WriteAsync(Event(i), default)));
        var report = await first.VerifyChainAsync(default);
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(150, report.Records);
    }

    [Fact]
    public async Task AuditChain_RecordsShareBlocks_OneRowPerGroupCommit()
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), SUM(record_count), MAX(record_count) FROM audit_blocks";
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(50, reader.GetInt64(1));
        Assert.True(reader.GetInt64(0) < 50, "every record got its own block");
        Assert.True(reader.GetInt64(2) > 1);
    }

    [Fact]
    public async Task AuditBlocks_LargeBurst_SplitBelowTheLargeObjectThreshold_ChainAndSearchIntact()
    {
        // 1,000 records of about 1 KB at once: the writer's batches hold hundreds of them, several blocks each.
        var reason = new string('r', 700);
        await Task.WhenAll(Enumerable.Range(51, 1000).Select(i => _log.WriteAsync(Event(i) with { Reason = i == 500 ? new string('R', 70_000) : reason }, default)));

        await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        // Every block within the limit, but for the one record larger than a block, which is a block of its own.
        command.CommandText = "SELECT MAX(CASE WHEN record_count > 1 THEN length(records) END), SUM(record_count), MAX(CASE WHEN length(records) > $max THEN record_count END) FROM audit_blocks";
        command.Parameters.AddWithValue("$max", SqliteAuditLog.MaxBlockBytes);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.InRange(reader.GetInt64(0), SqliteAuditLog.MaxBlockBytes / 2, SqliteAuditLog.MaxBlockBytes);
            Assert.Equal(1050, reader.GetInt64(1));
            Assert.Equal(1, reader.GetInt64(2));
        }

        var report = await _log.VerifyChainAsync(default);
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(1050, report.Records);
        foreach (var i in new[] { 51, 500, 1050 })
        {
            Assert.Equal("evt-" + i, Assert.Single(await _log.ListAsync(new AuditQuery { TokenId = "jti-" + i }, default)).Id);
        }
    }

    [Fact]
    public async Task AuditChain_UnreadableLine_IsReportedAtItsBlock()
    {
        await SqlAsync("UPDATE audit_blocks SET records = CAST(replace(CAST(records AS TEXT), '\"evt-34\"', '\"evt-34') AS BLOB) WHERE first_seq <= 34 AND last_seq >= 34");
        var report = await _log.VerifyChainAsync(default);
        Assert.False(report.Intact);
        Assert.InRange(report.FirstBrokenSequence!.Value, 31, 34);
        Assert.Contains("cannot be read", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditList_FiltersByEveryKey_NewestFirst()
    {
        var bySubject = await _log.ListAsync(new AuditQuery { Subject = "usr-1", Limit = 100 }, default);
        Assert.Equal(Enumerable.Range(1, 50).Where(i => i % 3 == 1).Reverse().Select(i => "evt-" + i), bySubject.Select(e => e.Id));

        var byToken = await _log.ListAsync(new AuditQuery { TokenId = "jti-17" }, default);
        Assert.Equal("evt-17", Assert.Single(byToken).Id);
        Assert.Equal("evt-17", Assert.Single(await _log.ListAsync(new AuditQuery { TokenId = "evt-17" }, default)).Id);
        Assert.Empty(await _log.ListAsync(new AuditQuery { TokenId = "jti-999" }, default));

        var denied = await _log.ListAsync(new AuditQuery { Outcome = AuditOutcomes.Denied, Subject = "usr-2", Limit = 3 }, default);
        Assert.Equal(["evt-47", "evt-41", "evt-35"], denied.Select(e => e.Id));

        var window = await _log.ListAsync(new AuditQuery { Since = Event(10).Time, Until = Event(13).Time }, default);
        Assert.Equal(["evt-12", "evt-11", "evt-10"], window.Select(e => e.Id));
        Assert.Empty(await _log.ListAsync(new AuditQuery { ClientId = "someone-else" }, default));
    }

    [Fact]
    public async Task AuditList_PagesThroughManyBlocks()
    {
        // 600 records written one at a time: 600 more blocks, more than one page of the block scan.
        for (var i = 51; i <= 650; i++)
        {
            await _log.WriteAsync(Event(i), default);
        }

        var all = await _log.ListAsync(new AuditQuery { Limit = 1000 }, default);
        Assert.Equal(650, all.Count);
        Assert.Equal("evt-650", all[0].Id);
        Assert.Equal("evt-1", all[^1].Id);
        Assert.Equal("evt-3", Assert.Single(await _log.ListAsync(new AuditQuery { TokenId = "jti-3" }, default)).Id);
        Assert.Equal(650, await _log.CountAsync(default));
        Assert.True((await _log.VerifyChainAsync(default)).Intact);
    }

    [Fact]
    public async Task AuditTrail_CutBackWhileTheWriterRuns_BecomesAGapThatVerificationReports()
    {
        // The newest blocks deleted under a running writer: it chains on from what it wrote, not from what is left, so
        // the cut cannot be papered over by the next records (it would otherwise reuse the numbers, and pass).
        var cutFrom = await BlockStartAsync(45);
        await SqlAsync($"DELETE FROM audit_blocks WHERE first_seq >= {cutFrom}");
        await _log.WriteAsync(Event(51), default);

        var report = await _log.VerifyChainAsync(default);
        Assert.Equal(51, report.FirstBrokenSequence);
        Assert.Contains($"records {cutFrom}–50 are missing", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditVerify_WithAKeptHash_DetectsARewrittenAndRehashedTrail_AndACutBackOne()
    {
        // This fixture's trail was written without a key ring (no seal): an operator seals it from the next record on.
        var sealing = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "reseal", "--data", _directory);
        Assert.True(sealing.Code == 0, sealing.Err);
        var kept = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory);
        Assert.True(kept.Code == 0, kept.Err);
        var head = kept.Out.Split("Keep ")[1].Split(' ')[0]; // "50:<hash>"
        Assert.StartsWith("50:", head, StringComparison.Ordinal);
        Assert.Equal(0, (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--expect", head)).Code);
        var siemCopy = Path.Combine(_directory, "siem-copy.jsonl"); // what a SIEM received from ema audit export
        Assert.Equal(0, (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "export", "--data", _directory, "--out", siemCopy)).Code);
        var matched = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--against", siemCopy);
        Assert.True(matched.Code == 0, matched.Err);
        Assert.Contains("50 records of the export matched", matched.Out, StringComparison.Ordinal);

        // Record 17, a denial, becomes a grant; every hash after it is recomputed, so the chain alone still holds.
        await AuditTamper.EditAndRehashAsync(DatabasePath, 17, line => (line[AuditTamper.Outcome], line[AuditTamper.Reason]) = (AuditOutcomes.Granted, null));
        Assert.True((await _log.VerifyChainAsync(default)).Intact);

        // The seal key holds record 50's hash (AuditSealTests): verify names the rewrite at #50. Someone who also deletes
        // that file gets a verification that says the key is missing — and the kept hash and export still name the rewrite.
        var anchored = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory);
        Assert.Contains("not the record the seal key was made after", anchored.Err, StringComparison.Ordinal);
        var keyFile = Path.Combine(_directory, "audit-seal.key");
        var keyBytes = await File.ReadAllBytesAsync(keyFile);
        File.Delete(keyFile);

        var rewritten = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--expect", head);
        Assert.Equal(1, rewritten.Code);
        Assert.Contains("the seal key file (audit-seal.key) is missing while the trail has records", rewritten.Err, StringComparison.Ordinal);
        Assert.Contains("record #50 no longer has the hash you kept", rewritten.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(keyFile)); // a reader makes no key
        var rewrittenJson = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--expect", head, "--json");
        Assert.Equal(1, rewrittenJson.Code);
        Assert.Contains("\"keptHashesMatch\":false", rewrittenJson.Out, StringComparison.Ordinal); // a script reading the JSON sees it too
        var againstCopy = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--against", siemCopy);
        Assert.Equal(1, againstCopy.Code);
        Assert.Contains("record #17 differs from the exported copy", againstCopy.Err, StringComparison.Ordinal); // the first rewritten record, named

        // Cut back: the seal key holds record 50 as the last one before sealing, so verify alone names the cut; without
        // that file, the kept hash does.
        await File.WriteAllBytesAsync(keyFile, keyBytes);
        await SqlAsync("DELETE FROM audit_blocks WHERE last_seq = 50");
        Assert.Contains("the trail ends before record 50", (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory)).Err, StringComparison.Ordinal);
        File.Delete(Path.Combine(_directory, "audit-seal.key"));
        var cut = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--expect", head);
        Assert.Equal(1, cut.Code);
        Assert.Contains("record #50 you kept is no longer in the trail", cut.Err, StringComparison.Ordinal);
        Assert.Equal(0, (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "export", "--data", _directory, "--after", "2", "--out", siemCopy)).Code);
        await File.WriteAllTextAsync(siemCopy, (await File.ReadAllLinesAsync(siemCopy))[0] + "\n{\"seq\":2,\"hash\":\"y\"}\n"); // #3, then #2
        Assert.Contains("out of order", (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--against", siemCopy)).Err, StringComparison.Ordinal);

        var malformed = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory, "--expect", "50:abc");
        Assert.Equal(2, malformed.Code);
        Assert.Contains("is not SEQ:HASH", malformed.Err, StringComparison.Ordinal);
    }

    private static AuditEvent Event(int i) => new()
    {
        Id = "evt-" + i, Time = DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000 + i), Type = AuditEventTypes.TokenExchange,
        Outcome = i % 2 == 0 ? AuditOutcomes.Granted : AuditOutcomes.Denied, Reason = i % 2 == 0 ? null : "no entitlement matches",
        ClientId = "ema-agent", Subject = "usr-" + (i % 3), Resource = "https://127.0.0.1/mcp/tickets", Scope = "tickets.read", TokenId = "jti-" + i,
    };

    private Task<long> BlockStartAsync(long sequence) => AuditTamper.BlockStartAsync(DatabasePath, sequence);

    private Task SqlAsync(string sql) => AuditTamper.SqlAsync(DatabasePath, sql);
}
