using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ema.Server.Audit;
using Ema.Storage.Stores;

namespace Ema.Cli;

/// <summary>One exported audit record (JSON Lines for a SIEM): the record, its sequence number and its chain hash.</summary>
internal sealed record ExportedAuditRecord(
    [property: JsonPropertyName("seq")] long Sequence,
    [property: JsonPropertyName("hash")] string? Hash,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("action")] string? Action,
    [property: JsonPropertyName("errorId")] string? ErrorId,
    [property: JsonPropertyName("reason")] string? Reason,
    [property: JsonPropertyName("clientId")] string? ClientId,
    [property: JsonPropertyName("subject")] string? Subject,
    [property: JsonPropertyName("resource")] string? Resource,
    [property: JsonPropertyName("audience")] string? Audience,
    [property: JsonPropertyName("scope")] string? Scope,
    [property: JsonPropertyName("tokenId")] string? TokenId,
    [property: JsonPropertyName("parentTokenId")] string? ParentTokenId,
    [property: JsonPropertyName("sessionId")] string? SessionId)
{
    public static ExportedAuditRecord From(long sequence, string? hash, AuditEvent e) =>
        new(sequence, hash, e.Id, e.Time, e.Type, e.Outcome, e.Action, e.ErrorId, e.Reason, e.ClientId, e.Subject, e.Resource, e.Audience, e.Scope, e.TokenId, e.ParentTokenId, e.SessionId);
}

[JsonSerializable(typeof(ExportedAuditRecord))]
[JsonSerializable(typeof(AuditChainReport))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class AuditJson : JsonSerializerContext;

/// <summary><c>ema audit verify|export|tail</c>: the hash-chained audit trail of the data folder.</summary>
internal static class AuditCommands
{
    private static readonly Option<string?> Data = new("--data") { Description = "Data folder (default ~/.local/share/ema).", Recursive = true };
    private static readonly Option<bool> Json = new("--json") { Description = "Machine-readable output." };

    public static Command Create()
    {
        var audit = new Command("audit", "The tamper-evident audit trail: verify the hash chain, export JSON Lines, tail.") { Data };

        var verify = new Command("verify", "Check the hash chain; report the first record that was changed, deleted, inserted or reordered.") { Json };
        verify.SetAction((p, ct) => AdminCommands.RunWithStorage(p.GetValue(Data), async (s, o) =>
        {
            var report = await s.GetRequiredService<SqliteAuditLog>().VerifyChainAsync(ct);
            if (p.GetValue(Json))
            {
                o.WriteLine(JsonSerializer.Serialize(report, AuditJson.Default.AuditChainReport));
            }
            else if (report.Intact)
            {
                o.WriteLine($"Audit trail intact: {report.Records} records. Head hash {report.HeadHash} (keep it elsewhere to detect the removal of the newest records).");
            }
            else
            {
                Console.Error.WriteLine($"ema audit: the chain is broken at record #{report.FirstBrokenSequence} ({report.FirstBrokenId}): {report.Problem}.");
            }

            return report.Intact ? 0 : 1;
        }, ct));

        var output = new Option<string?>("--out") { Description = "Write to this file (mode 600) instead of stdout." };
        var after = new Option<long>("--after") { Description = "Only records after this sequence number." };
        var export = new Command("export", "Write the audit trail as JSON Lines (for a SIEM).") { output, after };
        export.SetAction((p, ct) => AdminCommands.RunWithStorage(p.GetValue(Data), async (s, o) =>
        {
            var log = s.GetRequiredService<SqliteAuditLog>();
            var path = p.GetValue(output);
            await using var file = path is null ? null : new StreamWriter(PrivateFile.Create(path));
            var writer = file ?? o;
            long last = p.GetValue(after), count = 0;
            while (true)
            {
                var page = await log.ReadAfterAsync(last, 1000, ct);
                foreach (var (sequence, hash, e) in page)
                {
                    await writer.WriteLineAsync(JsonSerializer.Serialize(ExportedAuditRecord.From(sequence, hash, e), AuditJson.Default.ExportedAuditRecord));
                    last = sequence;
                    count++;
                }

                if (page.Count < 1000)
                {
                    break;
                }
            }

            if (path is not null)
            {
                o.WriteLine($"Exported {count} records to {path}.");
            }

            return 0;
        }, ct));

        var lines = new Option<int>("--lines") { Description = "How many of the newest records to show first.", DefaultValueFactory = _ => 20 };
        var follow = new Option<bool>("--follow") { Description = "Keep printing new records as they are written (Ctrl+C to stop)." };
        var tail = new Command("tail", "Show the newest records.") { lines, follow };
        tail.SetAction((p, ct) => AdminCommands.RunWithStorage(p.GetValue(Data), async (s, o) =>
        {
            var log = s.GetRequiredService<SqliteAuditLog>();
            var total = await log.CountAsync(ct);
            var last = (await log.ReadAfterAsync(Math.Max(0, total - p.GetValue(lines)), p.GetValue(lines), ct)) is { Count: > 0 } first ? Print(o, first) : 0L;
            while (p.GetValue(follow) && !ct.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                var page = await log.ReadAfterAsync(last, 1000, ct);
                if (page.Count > 0)
                {
                    last = Print(o, page);
                }
            }

            return 0;
        }, ct));

        audit.Subcommands.Add(verify);
        audit.Subcommands.Add(export);
        audit.Subcommands.Add(tail);
        return audit;
    }

    private static long Print(TextWriter output, IReadOnlyList<(long Sequence, string? Hash, AuditEvent Event)> records)
    {
        foreach (var (sequence, _, e) in records)
        {
            output.WriteLine($"#{sequence,-6} {e.Time:yyyy-MM-dd HH:mm:ss.fff} {e.Type,-15} {e.Outcome,-9} {e.ClientId,-12} {e.Subject,-12} {e.Resource} {e.Scope} {(e.Outcome == AuditOutcomes.Denied ? e.Reason : e.TokenId)}");
        }

        return records[^1].Sequence;
    }
}
