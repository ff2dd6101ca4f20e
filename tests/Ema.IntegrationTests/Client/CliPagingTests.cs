using System.Text.Json;
using Ema.Admin.Api;
using Ema.Cli;
using Ema.Server.Audit;

namespace Ema.IntegrationTests.Client;

/// <summary>
/// The rules that keep a paged read honest when a server misbehaves (one that ignores <c>after</c>, repeats or
/// reorders): the CLI stops with an error instead of looping, repeating or printing a silently shortened list; and the
/// admin API verifies the whole trail once at a time.
/// </summary>
public sealed class CliPagingTests
{
    private static AuditExportRecord Record(long sequence) =>
        AuditExportRecord.From(sequence, new string('a', 64), new AuditEvent { Id = $"aud_{sequence}", Time = DateTimeOffset.UnixEpoch, Type = AuditEventTypes.SignIn, Outcome = AuditOutcomes.Granted });

    [Fact]
    public void AuditExportPaging_APageMustFollowOnFromTheLastRecord_OrTheExportStops()
    {
        Assert.True(AuditCommands.FollowsOn([], 4));
        Assert.True(AuditCommands.FollowsOn([Record(5), Record(6), Record(9)], 4)); // gaps are allowed (records from before the chain)
        Assert.False(AuditCommands.FollowsOn([Record(4), Record(5)], 4)); // the last page again: a server that ignores after
        Assert.False(AuditCommands.FollowsOn([Record(1), Record(2)], 4)); // from the start again
        Assert.False(AuditCommands.FollowsOn([Record(6), Record(5)], 4)); // out of order
        Assert.False(AuditCommands.FollowsOn([Record(5), null], 4)); // a null in the list
    }

    [Fact]
    public void RemoteListPaging_APageMustMoveOnPastTheCursor_OrNothingIsPrinted()
    {
        static IReadOnlyList<JsonElement> Page(string json) => [.. JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.Clone())];

        Assert.Equal("bob", AdminRemoteCommands.LastCursor(Page("""[{"username":"alice"},{"username":"bob"}]"""), "username", null));
        Assert.Equal("dan", AdminRemoteCommands.LastCursor(Page("""[{"username":"carol"},{"username":"dan"}]"""), "username", "bob"));
        Assert.Null(AdminRemoteCommands.LastCursor(Page("""[{"username":"alice"},{"username":"bob"}]"""), "username", "bob")); // the first page again
        Assert.Null(AdminRemoteCommands.LastCursor(Page("""[{"username":"dan"},{"username":"carol"}]"""), "username", "bob")); // out of order
        Assert.Null(AdminRemoteCommands.LastCursor(Page("""[{"username":"carol"},{"name":"dan"}]"""), "username", "bob")); // an item without the cursor
        Assert.Null(AdminRemoteCommands.LastCursor(Page("""[{"username":7}]"""), "username", null)); // a cursor that is not text
        Assert.Null(AdminRemoteCommands.LastCursor(Page("""[null]"""), "username", null));

        // The server sorts by Unicode code point (SQLite's BINARY collation over UTF-8), not by UTF-16 code unit: U+FF42
        // comes before U+1F600 there, and the CLI must agree or it stops a correct listing as "out of order".
        Assert.Equal("zzz\U0001F600", AdminRemoteCommands.LastCursor(Page("""[{"username":"zzz\uFF42"},{"username":"zzz\uD83D\uDE00"}]"""), "username", null));
        Assert.True(UserOrder.Compare("zzz\uFF42", "zzz\U0001F600") < 0);
        Assert.True(string.CompareOrdinal("zzz\uFF42", "zzz\U0001F600") > 0); // why UserOrder exists
    }

    [Fact]
    public async Task AuditVerification_RunsOnceAtATime_ASecondCallerIsTurnedAwayWithoutReading()
    {
        var trail = new SlowTrail();
        using var gate = new AuditVerificationGate();
        var first = gate.TryVerifyAsync(trail, default);
        Assert.False(first.IsCompleted);

        Assert.Null(await gate.TryVerifyAsync(trail, default)); // busy: no second read
        Assert.Equal(1, trail.Verifications);

        trail.Finish.SetResult();
        Assert.True((await first)!.Intact);
        trail.Finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        trail.Finish.SetResult();
        Assert.NotNull(await gate.TryVerifyAsync(trail, default)); // free again once the first has finished
        Assert.Equal(2, trail.Verifications);
    }

    private sealed class SlowTrail : IAuditTrail
    {
        public TaskCompletionSource Finish { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Verifications { get; private set; }

        public Task<IReadOnlyList<(long Sequence, string? Hash, AuditEvent Event)>> ReadAfterAsync(long afterSequence, int limit, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<long> LastSequenceAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public async Task<AuditChainReport> VerifyChainAsync(CancellationToken cancellationToken)
        {
            Verifications++;
            await Finish.Task;
            return new AuditChainReport(0, AuditChain.Genesis, null, null, null);
        }
    }
}
