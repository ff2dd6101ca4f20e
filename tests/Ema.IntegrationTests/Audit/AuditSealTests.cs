using Ema.Server;
using Ema.Server.Audit;
using Ema.Server.AspNetCore;
using Ema.Storage;
using Ema.Storage.Stores;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.Audit;

/// <summary>
/// Sealed audit blocks on a real SQLite file with the data folder's real Data Protection key ring: the rewrite an
/// unkeyed chain cannot notice (edit a record, re-hash everything after it) is reported without any kept hash.
/// </summary>
public sealed class AuditSealTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ema-audit-seal-").FullName;
    private ServiceProvider? _services;

    private string DatabasePath => Path.Combine(_directory, "ema.db");

    private SqliteAuditLog Log => _services!.GetRequiredService<SqliteAuditLog>();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task AuditSeal_AChainRewrittenHashesIncluded_IsReportedAtTheFirstBlockItChanged()
    {
        await StartAsync();
        await WriteAsync(1, 50);
        var intact = await Log.VerifyChainAsync(default);
        Assert.True(intact.Intact, intact.Problem);
        Assert.Equal(1, intact.SealedFrom);

        // What AuditChainTests shows an unkeyed chain cannot notice: record 17, a denial, becomes a grant and every hash
        // after it is recomputed. The block holding it no longer matches its seal.
        await AuditTamper.EditAndRehashAsync(DatabasePath, 17, line => (line[AuditTamper.Outcome], line[AuditTamper.Reason]) = (AuditOutcomes.Granted, null));
        var report = await Log.VerifyChainAsync(default);
        Assert.False(report.Intact);
        Assert.Equal(await BlockStartAsync(17), report.FirstBrokenSequence);
        Assert.Contains("seal does not match", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_ABlockWhoseSealWasRemoved_IsReported()
    {
        await StartAsync();
        await WriteAsync(1, 50);
        var block = await BlockStartAsync(30);
        await SqlAsync($"UPDATE audit_blocks SET seal = NULL WHERE first_seq = {block}");

        var report = await Log.VerifyChainAsync(default);
        Assert.Equal(block, report.FirstBrokenSequence);
        Assert.Contains("has no seal although the trail is sealed from record 1", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_AnUpgradedTrail_IsSealedFromTheNextRecord_AndAnOlderEditIsCaughtByTheKeysAnchor()
    {
        // Written before sealing existed (no key ring: nothing to keep a key with), then opened with one: refused until
        // an operator reseals (the database cannot tell a trail never sealed from one stripped of its seals).
        await StartAsync(keyRing: false);
        await WriteAsync(1, 20);
        Assert.Null((await Log.VerifyChainAsync(default)).SealedFrom);
        await StopAsync();
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync());
        Assert.Contains("has 20 records but no seal key file", refused.Message, StringComparison.Ordinal);
        await ResealAsync();
        await StartAsync();
        await WriteAsync(21, 40);
        var report = await Log.VerifyChainAsync(default);
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(21, report.SealedFrom);
        Assert.Empty(report.Warnings);

        // The first sealed record says why sealing starts there.
        var first = (await Log.ReadAfterAsync(20, 1, default)).Single();
        Assert.Equal(AuditEventTypes.AuditIntegrity, first.Event.Type);
        Assert.Equal(AuditIntegrityActions.SealingStarted, first.Event.Action);
        Assert.Contains("a trail of 20 records", first.Event.Reason, StringComparison.Ordinal);

        // Record 5 is in an unsealed block, but re-hashing after it changes record 20, whose hash the key file holds (and
        // the sealed blocks' last hashes).
        await AuditTamper.EditAndRehashAsync(DatabasePath, 5, line => line[AuditTamper.Subject] = "usr-someone-else");
        var rewritten = await Log.VerifyChainAsync(default);
        Assert.Equal(20, rewritten.FirstBrokenSequence);
        Assert.Contains("not the record the seal key was made after", rewritten.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_AKeyThisKeyRingCannotRead_StopsTheStart()
    {
        await StartAsync();
        await WriteAsync(1, 5);
        await StopAsync();
        Directory.Delete(Path.Combine(_directory, "dataprotection-keys"), recursive: true); // another key ring

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync());
        Assert.Contains("seal key", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_SealsClearedThroughTheDatabase_AreReported_ForTheKeyAndItsStartAreNotInIt()
    {
        // Everything one can do through the database — clear every seal, even rewrite the chain — leaves the key file and
        // the first record it seals where they were.
        await StartAsync();
        await WriteAsync(1, 30);
        await AuditTamper.EditAndRehashAsync(DatabasePath, 12, line => line[AuditTamper.Subject] = "usr-someone-else");
        await SqlAsync("UPDATE audit_blocks SET seal = NULL");
        await RestartAsync();

        var report = await Log.VerifyChainAsync(default);
        Assert.Equal(1, report.SealedFrom);
        Assert.Equal(1, report.FirstBrokenSequence);
        Assert.Contains("has no seal although the trail is sealed from record 1", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_RecordsBeforeSealingBegan_ReplacedOrRemovedWithEverythingAfter_AreReported()
    {
        // An upgraded trail sealed from record 21. No seal covers records 1–20, but the key file holds record 20's hash.
        await StartAsync(keyRing: false);
        await WriteAsync(1, 20);
        await StopAsync();
        await ResealAsync();
        await StartAsync();
        await WriteAsync(21, 40);

        // Everything sealed removed, then the history before it rewritten and re-hashed: ends at a record 20 that is not the one.
        await SqlAsync("DELETE FROM audit_blocks WHERE first_seq >= 21");
        await AuditTamper.EditAndRehashAsync(DatabasePath, 5, line => line[AuditTamper.Subject] = "usr-someone-else");
        var replaced = await Log.VerifyChainAsync(default);
        Assert.Equal(20, replaced.FirstBrokenSequence);
        Assert.Contains("not the record the seal key was made after", replaced.Problem, StringComparison.Ordinal);

        // Or the whole trail removed.
        await SqlAsync("DELETE FROM audit_blocks");
        var removed = await Log.VerifyChainAsync(default);
        Assert.Equal(20, removed.FirstBrokenSequence);
        Assert.Contains("the trail ends before record 20", removed.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_NewestRecordsRemovedWhileNoEmaProcessRan_AreReported_AndTheNextRunChainsOnFromTheHeadMark()
    {
        // The head mark (audit-seal.head, under the seal key) is written at shutdown: the newest record made durable.
        await StartAsync();
        await WriteAsync(1, 30);
        await StopAsync();
        Assert.StartsWith("30 ", await File.ReadAllTextAsync(Path.Combine(_directory, "audit-seal.head")), StringComparison.Ordinal);

        // Cut back while nothing runs: the chain and the seals of what is left are intact, the mark is not.
        var cutFrom = await BlockStartAsync(25);
        await SqlAsync($"DELETE FROM audit_blocks WHERE first_seq >= {cutFrom}");
        await StartAsync();
        var cut = await Log.VerifyChainAsync(default);
        Assert.Equal(cutFrom, cut.FirstBrokenSequence);
        Assert.Contains($"the trail ends at record #{cutFrom - 1}, but records up to #30 were written", cut.Problem, StringComparison.Ordinal);

        // The next records do not reuse the numbers: they chain on from record 30, so the cut stays a gap.
        await WriteAsync(31, 31);
        var gap = await Log.VerifyChainAsync(default);
        Assert.Equal(31, gap.FirstBrokenSequence);
        Assert.Contains($"records {cutFrom}–30 are missing", gap.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_TheHeadMark_FollowsTheLastCommitWithinASecond_WithoutAShutdown()
    {
        // Written at the first commit, then at most once a second: a burst followed by quiet is marked when the writer
        // idles (a crash then loses at most that second), not only at shutdown.
        await StartAsync();
        await WriteAsync(1, 10);
        await WriteAsync(11, 20);
        var path = Path.Combine(_directory, "audit-seal.head");
        for (var i = 0; i < 100 && !(File.Exists(path) && (await File.ReadAllTextAsync(path)).StartsWith("20 ", StringComparison.Ordinal)); i++)
        {
            await Task.Delay(100); // at most 10 seconds
        }

        Assert.StartsWith("20 ", await File.ReadAllTextAsync(path), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_AHeadMarkEditedWithoutTheKey_IsReported()
    {
        await StartAsync();
        await WriteAsync(1, 30);
        await StopAsync();
        var path = Path.Combine(_directory, "audit-seal.head");
        var mark = await File.ReadAllTextAsync(path);

        // The mark as it was written: intact, no warning.
        await StartAsync();
        var clean = await Log.VerifyChainAsync(default);
        Assert.True(clean.Intact, clean.Problem);
        Assert.Empty(clean.Warnings);
        await StopAsync();

        // Moved back to record 20 without the key: the mark no longer verifies. Verified with the seal loaded but before
        // a writer starts, that is a finding; the next start records it in the trail itself (sealed), and verification
        // lists it from then on, whatever marks follow.
        await File.WriteAllTextAsync(path, "20" + (await File.ReadAllTextAsync(path))[2..]);
        var offline = await VerifyWithoutStartingAsync();
        Assert.Contains("does not verify under the seal key", offline.Problem, StringComparison.Ordinal);

        await StartAsync();
        await WriteAsync(31, 35);
        await RestartAsync();
        var report = await Log.VerifyChainAsync(default);
        Assert.True(report.Intact, report.Problem);
        var warning = Assert.Single(report.Warnings);
        Assert.Contains("not verifiable under the seal key", warning, StringComparison.Ordinal);
        Assert.Contains("after #30", warning, StringComparison.Ordinal);
        Assert.NotEqual(mark, await File.ReadAllTextAsync(path)); // marked again, forward
    }

    [Fact]
    public async Task AuditSeal_HeadMarkRemovedAndTrailCutBack_IsRecordedInTheTrailAtTheNextStart_NeverPassesSilently()
    {
        // The review's attack: stop, cut the newest blocks, delete the mark, start. Before: the next start wrote a new
        // mark at the cut head and the trail verified clean.
        await StartAsync();
        await WriteAsync(1, 30);
        await StopAsync();
        var cutFrom = await BlockStartAsync(25);
        await SqlAsync($"DELETE FROM audit_blocks WHERE first_seq >= {cutFrom}");
        File.Delete(Path.Combine(_directory, "audit-seal.head"));
        Assert.Contains("is missing", (await VerifyWithoutStartingAsync()).Problem, StringComparison.Ordinal);

        await StartAsync();
        await WaitForHeadMarkAsync(); // written by the writer after the integrity record's commit, within a second
        var report = await Log.VerifyChainAsync(default);
        Assert.True(report.Intact, report.Problem);
        var warning = Assert.Single(report.Warnings);
        Assert.Contains($"was missing when a process started: records written after #{cutFrom - 1}", warning, StringComparison.Ordinal);
        var cli = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory);
        Assert.Contains("warning: record #", cli.Err, StringComparison.Ordinal);

        // Garbage in place of the mark: the same, a second warning.
        await StopAsync();
        await File.WriteAllTextAsync(Path.Combine(_directory, "audit-seal.head"), "garbage");
        await StartAsync();
        await WaitForHeadMarkAsync();
        Assert.Equal(2, (await Log.VerifyChainAsync(default)).Warnings.Count);
    }

    [Fact]
    public async Task AuditSeal_KeyAndMarkDeletedAndSealsCleared_StopsTheStart_InsteadOfSealingAnew()
    {
        // The review's other attack: edit and re-hash, clear every seal, delete the key file and the mark, start. A key
        // made on its own then sealed "from now on" and the rewrite verified clean.
        await StartAsync();
        await WriteAsync(1, 30);
        await StopAsync();
        await AuditTamper.EditAndRehashAsync(DatabasePath, 13, line => (line[AuditTamper.Outcome], line[AuditTamper.Reason]) = (AuditOutcomes.Granted, null));
        await SqlAsync("UPDATE audit_blocks SET seal = NULL");
        File.Delete(Path.Combine(_directory, "audit-seal.key"));
        File.Delete(Path.Combine(_directory, "audit-seal.head"));

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync());
        Assert.Contains("has 30 records but no seal key file", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "audit-seal.key")));
    }

    [Fact]
    public async Task AuditSeal_Reseal_IsRefusedWhileAProcessWritesTheTrail()
    {
        // A running writer holds the old key in memory; a new key beside it would make its later blocks fail their seals.
        await StartAsync();
        await WriteAsync(1, 5);
        File.Delete(Path.Combine(_directory, "audit-seal.key"));
        var reseal = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "reseal", "--data", _directory);
        Assert.NotEqual(0, reseal.Code);
        Assert.Contains("is writing this data folder's audit trail", reseal.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "audit-seal.key")));
    }

    [Fact]
    public async Task AuditExport_ATrailWithDeletedOrUnreadableRecords_SaysSo_NeverASilentlyShorterCopy()
    {
        await StartAsync();
        await WriteAsync(1, 30);
        await StopAsync();

        // Deleted records: the copy goes on, names the gap and fails.
        var block = await BlockStartAsync(15);
        var exportedBefore = (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "export", "--data", _directory)).Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.Equal(30, exportedBefore);
        await SqlAsync($"DELETE FROM audit_blocks WHERE first_seq = {block}");
        var gap = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "export", "--data", _directory);
        Assert.Equal(1, gap.Code);
        Assert.Matches($"records #{block}–#[0-9]+ are missing from the trail", gap.Err);
        Assert.Contains("\"seq\":30", gap.Out, StringComparison.Ordinal);

        // A record whose text no longer parses: reading stops there, with the reason.
        await AuditTamper.EditAsync(DatabasePath, 3, line =>
        {
            line[AuditTamper.Outcome] = 42;
            return line;
        });
        var unreadable = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "export", "--data", _directory);
        Assert.Equal(1, unreadable.Code);
        Assert.Contains("cannot be read", unreadable.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_ANewKey_IsMadeWithItsFirstHeadMark()
    {
        await StartAsync();
        Assert.StartsWith("0 " + AuditChain.Genesis + " ", await File.ReadAllTextAsync(Path.Combine(_directory, "audit-seal.head")), StringComparison.Ordinal);
        Assert.Empty((await Log.VerifyChainAsync(default)).Warnings);
    }

    [Fact]
    public async Task AuditSeal_BlocksMergedAcrossTheStartOfSealing_AreReported()
    {
        // An upgraded trail sealed from record 21: the last unsealed block and the first sealed one made into one unsealed
        // row would otherwise fall under neither rule (it starts before sealing, so it "needs" no seal).
        await StartAsync(keyRing: false);
        await WriteAsync(1, 20);
        await StopAsync();
        await ResealAsync();
        await StartAsync();
        await WriteAsync(21, 40);
        var before = await BlockStartAsync(20);
        await SqlAsync($"""
            UPDATE audit_blocks SET
                last_seq = (SELECT last_seq FROM audit_blocks WHERE first_seq = 21), record_count = record_count + (SELECT record_count FROM audit_blocks WHERE first_seq = 21),
                max_time = (SELECT max_time FROM audit_blocks WHERE first_seq = 21), last_hash = (SELECT last_hash FROM audit_blocks WHERE first_seq = 21),
                key_filter = NULL, seal = NULL, records = records || (SELECT records FROM audit_blocks WHERE first_seq = 21)
            WHERE first_seq = {before};
            DELETE FROM audit_blocks WHERE first_seq = 21;
            """);

        var report = await Log.VerifyChainAsync(default);
        Assert.Equal(before, report.FirstBrokenSequence);
        Assert.Contains("straddles record 21", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditSeal_AMissingKeyFile_StopsTheStart_UntilAnExplicitReseal_AfterWhichVerifySaysTheOldSealsAreUnchecked()
    {
        await StartAsync();
        await WriteAsync(1, 30);
        await StopAsync();
        File.Delete(Path.Combine(_directory, "audit-seal.key"));

        // A new key made on its own would make the trail look sealed only from now on.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync());
        Assert.Contains("has 30 records but no seal key file", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "audit-seal.key")));

        var reseal = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "reseal", "--data", _directory);
        Assert.True(reseal.Code == 0, reseal.Err);
        Assert.Contains("from record #31", reseal.Out, StringComparison.Ordinal);
        Assert.NotEqual(0, (await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "reseal", "--data", _directory)).Code); // once

        await StartAsync();
        await WriteAsync(31, 40);
        var report = await Log.VerifyChainAsync(default);
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(31, report.SealedFrom);
        Assert.True(report.EarlierSealsLost);
        Assert.NotNull(report.SealStartedAt);
        await StopAsync();
        var verify = await Ema.IntegrationTests.Infrastructure.EmaCli.RunAsync("audit", "verify", "--data", _directory);
        Assert.True(verify.Code == 0, verify.Err);
        Assert.Contains("sealing started anew at #31 with 'ema audit reseal'", verify.Out, StringComparison.Ordinal);
        Assert.Contains("Keep 41:", verify.Out, StringComparison.Ordinal); // the integrity record #31 and ten more
    }

    private async Task StartAsync(bool keyRing = true)
    {
        var services = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System).AddEmaSqliteStorage(DatabasePath);
        if (keyRing)
        {
            services.AddEmaAspNetCore(Path.Combine(_directory, "dataprotection-keys"));
        }

        var provider = services.BuildServiceProvider();
        try
        {
            foreach (var task in provider.GetServices<IStartupTask>().OrderBy(t => t.Order))
            {
                await task.RunAsync(default);
            }
        }
        catch
        {
            await provider.DisposeAsync();
            throw;
        }

        _services = provider;
    }

    private async Task WaitForHeadMarkAsync()
    {
        var path = Path.Combine(_directory, "audit-seal.head");
        for (var i = 0; i < 100 && !(File.Exists(path) && (await File.ReadAllTextAsync(path)).Length > 70); i++)
        {
            await Task.Delay(100); // at most 10 seconds
        }
    }

    // What `ema audit reseal` does (the CLI test above runs the command itself).
    private async Task ResealAsync()
    {
        await using var keys = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System).AddEmaAspNetCore(Path.Combine(_directory, "dataprotection-keys")).BuildServiceProvider();
        await AuditSealKeys.ResealAfterLossAsync(DatabasePath, keys.GetRequiredService<Ema.Server.Security.IKeyProtector>(), keys.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>(), TimeProvider.System, default);
    }

    // The seal loaded and checked with no writer started: what the trail looks like to a verifier before any process
    // has written (or re-marked) it.
    private async Task<AuditChainReport> VerifyWithoutStartingAsync()
    {
        await using var services = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System).AddEmaSqliteStorage(DatabasePath).AddEmaAspNetCore(Path.Combine(_directory, "dataprotection-keys")).BuildServiceProvider();
        var log = services.GetRequiredService<SqliteAuditLog>();
        using var seal = await AuditSeal.LoadOrCreateAsync(DatabasePath, services.GetRequiredService<SqliteDatabase>(), services.GetRequiredService<Ema.Server.Security.IKeyProtector>(), services.GetRequiredService<Microsoft.Extensions.Logging.ILogger<SqliteAuditLog>>(), TimeProvider.System, default);
        log.UseSealForVerificationOnly(seal);
        var report = await log.VerifyChainAsync(default);
        SqliteConnection.ClearAllPools();
        return report;
    }

    private async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    // Disposing the log writes the head mark: what a clean shutdown leaves.
    private async Task StopAsync()
    {
        await _services!.DisposeAsync();
        _services = null;
        SqliteConnection.ClearAllPools();
    }

    // In groups written concurrently, so blocks hold several records and tampering lands inside blocks.
    private async Task WriteAsync(int from, int to)
    {
        for (var start = from; start <= to; start += 10)
        {
            await Task.WhenAll(Enumerable.Range(start, Math.Min(10, to - start + 1)).Select(i => Log.WriteAsync(new AuditEvent
            {
                Id = "evt-" + i, Time = DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000 + i), Type = AuditEventTypes.TokenExchange,
                Outcome = i % 2 == 0 ? AuditOutcomes.Granted : AuditOutcomes.Denied, Reason = i % 2 == 0 ? null : "no entitlement matches",
                ClientId = "ema-agent", Subject = "usr-" + (i % 3), Resource = "https://127.0.0.1/mcp/tickets", Scope = "tickets.read", TokenId = "jti-" + i,
            }, default)));
        }
    }

    private Task<long> BlockStartAsync(long sequence) => AuditTamper.BlockStartAsync(DatabasePath, sequence);

    private Task SqlAsync(string sql) => AuditTamper.SqlAsync(DatabasePath, sql);
}
