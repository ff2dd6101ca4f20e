using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ema.Admin.Api;
using Ema.Server.Audit;

namespace Ema.Cli;

[JsonSerializable(typeof(AuditExportRecord))]
[JsonSerializable(typeof(List<AuditExportRecord>))]
[JsonSerializable(typeof(AuditChainReport))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class AuditJson : JsonSerializerContext;

/// <summary>
/// <c>ema audit verify|export|tail</c>: the hash-chained audit trail of the data folder, or with <c>--remote</c> of the
/// running IdP signed in to with <c>ema admin login</c> (its admin API's <c>/audit/verify</c> and <c>/audit/records</c>).
/// Both print and export alike: the export's lines are the same bytes either way.
/// </summary>
internal static class AuditCommands
{
    private const int PageSize = 1000;
    private static readonly TimeSpan VerifyTimeout = TimeSpan.FromMinutes(30);
    private static readonly Option<string?> Data = new("--data") { Description = "Data folder (default ~/.local/share/ema).", Recursive = true };
    private static readonly Option<bool> Remote = new("--remote") { Description = "Read the trail of the IdP you signed in to with ema admin login, through its admin API, instead of the data folder.", Recursive = true };
    private static readonly Option<bool> Json = new("--json") { Description = "Machine-readable output." };

    public static Command Create()
    {
        var audit = new Command("audit", "The tamper-evident audit trail: verify the hash chain, export JSON Lines, tail.") { Data, Remote };

        var expect = new Option<string[]>("--expect")
        {
            Description = "SEQ:HASH of a record, as an earlier verify printed it and you kept elsewhere: the record must still be there with that hash.",
            AllowMultipleArgumentsPerToken = true,
        };
        var against = new Option<string?>("--against")
        {
            Description = "A JSON Lines export kept elsewhere (a SIEM's copy of ema audit export): every record in it must still be in the trail with the same hash.",
        };
        var verify = new Command("verify", "Check the hash chain; report the first record that was changed, deleted, inserted or reordered.") { Json, expect, against };
        verify.SetAction((p, ct) => WithTrailAsync(p, async trail =>
        {
            var expected = new List<(long Sequence, string Hash)>();
            foreach (var text in p.GetValue(expect) ?? [])
            {
                if (text.Split(':') is not [var seq, var hash] || !long.TryParse(seq.TrimStart('#'), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var sequence) || sequence < 1 || hash.Length != 64 || !hash.All(char.IsAsciiHexDigitLower))
                {
                    return ClientCommands.Fail($"--expect '{text}' is not SEQ:HASH (a record number and its 64-character hash, as ema audit verify prints them).", ExitCodes.Usage);
                }

                expected.Add((sequence, hash));
            }

            var report = await trail.VerifyAsync(ct);

            // The seals (where the trail has a seal key) catch a rewrite by someone who can write the database but not
            // read the data folder's key ring; a head kept elsewhere catches the rest — a trail cut back at its end, or
            // rewritten by someone who has the key ring too. A kept record that is gone or has another hash means the trail was cut back or
            // rewritten at or before it.
            // Compared whatever the chain check found: a kept hash or export is the proof that does not depend on this
            // data folder's files (the seal key may be what is missing).
            string? mismatch = null;
            foreach (var (sequence, hash) in expected)
            {
                var found = (await trail.AfterAsync(sequence - 1, 1, ct)).FirstOrDefault(r => r.Sequence == sequence);
                mismatch ??= found is null ? $"record #{sequence} you kept is no longer in the trail: the newest records were removed"
                    : !string.Equals(found.Hash, hash, StringComparison.Ordinal) ? $"record #{sequence} no longer has the hash you kept: the trail was rewritten at or before it"
                    : null;
            }

            long comparedWithExport = 0;
            if (mismatch is null && p.GetValue(against) is { } exportPath)
            {
                try
                {
                    (mismatch, comparedWithExport) = await CompareWithExportAsync(trail, exportPath, ct);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    return ClientCommands.Fail($"Cannot read '{exportPath}': {ex.Message}", ExitCodes.Usage);
                }
            }

            if (p.GetValue(Json))
            {
                // The chain report as it always was, and — with --expect or --against — whether the kept hashes still match.
                var json = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(report, AuditJson.Default.AuditChainReport))!.AsObject();
                if (expected.Count > 0 || p.GetValue(against) is not null)
                {
                    json["keptHashesMatch"] = mismatch is null;
                    json["keptHashProblem"] = mismatch;
                }

                Console.Out.WriteLine(json.ToJsonString());
            }
            else if (report.Intact && mismatch is null)
            {
                Console.Out.WriteLine($"Audit trail intact: {report.Records} records{(report.SealedFrom is { } sealedFrom ? $", sealed from record #{sealedFrom}" : ", not sealed")}{(expected.Count > 0 ? $", {expected.Count} kept hash(es) matched" : string.Empty)}{(p.GetValue(against) is not null ? $", {comparedWithExport} records of the export matched" : string.Empty)}. Head hash {report.HeadHash}.");
                if (report.SealedFrom > 1)
                {
                    var since = report.SealStartedAt is { } started ? $" (the seal key was made {started.ToString("u", System.Globalization.CultureInfo.InvariantCulture)})" : string.Empty;
                    Console.Out.WriteLine(report.EarlierSealsLost
                        ? $"Records before #{report.SealedFrom} are not covered by a seal: sealing started anew at #{report.SealedFrom} with 'ema audit reseal'{since}. Only the chain and a kept hash or export protect them."
                        : $"Records before #{report.SealedFrom} are not covered by a seal{since}: a kept hash or export is their only proof of what they said.");
                }

                // The head the verification itself reached (not a second read, which could see a block appended since).
                if (report.HeadSequence > 0)
                {
                    Console.Out.WriteLine($"Keep {report.HeadSequence}:{report.HeadHash} elsewhere; 'ema audit verify --expect {report.HeadSequence}:{report.HeadHash}' later proves nothing up to it was rewritten or removed.");
                }
            }

            // Recorded by the trail about itself, sealed: they stay listed whatever else is found.
            foreach (var warning in report.Warnings)
            {
                Console.Error.WriteLine($"ema audit: warning: {TerminalText.Safe(warning)}");
            }

            if (!report.Intact)
            {
                var id = report.FirstBrokenId is null ? string.Empty : $" ({TerminalText.Safe(report.FirstBrokenId)})";
                Console.Error.WriteLine($"ema audit: the trail is not intact at record #{report.FirstBrokenSequence}{id}: {TerminalText.Safe(report.Problem)}.");
            }

            if (mismatch is not null)
            {
                Console.Error.WriteLine($"ema audit: {mismatch}.");
            }

            return report.Intact && mismatch is null ? ExitCodes.Ok : ExitCodes.Failed;
        }, ct));

        var output = new Option<string?>("--out") { Description = "Write to this file (mode 600) instead of stdout." };
        var after = new Option<long>("--after") { Description = "Only records after this sequence number." };
        var export = new Command("export", "Write the audit trail as JSON Lines (for a SIEM).") { output, after };
        export.SetAction((p, ct) => WithTrailAsync(p, async trail =>
        {
            var path = p.GetValue(output);
            var last = p.GetValue(after);

            // The first page before the file: a refused sign-in or an unreachable server leaves an earlier export intact.
            var page = await NextPageAsync(trail, last, ct);
            StreamWriter? file;
            try
            {
                file = path is null ? null : new StreamWriter(PrivateFile.Create(path));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return ClientCommands.Fail($"Cannot write {path}: {ex.Message}", ExitCodes.Usage);
            }

            await using (file)
            {
                var writer = file ?? Console.Out;
                long count = 0;
                var gaps = false;
                while (page.Count > 0)
                {
                    foreach (var record in page)
                    {
                        // Records are numbered without gaps: a missing run was deleted. The copy goes on, but says so —
                        // a SIEM copy must not lack records silently.
                        if (record.Sequence != last + 1)
                        {
                            Console.Error.WriteLine($"ema audit: records #{last + 1}–#{record.Sequence - 1} are missing from the trail (deleted); 'ema audit verify' reports it.");
                            gaps = true;
                        }

                        await writer.WriteLineAsync(JsonSerializer.Serialize(record, AuditJson.Default.AuditExportRecord));
                        count++;
                        last = record.Sequence;
                    }

                    page = await NextPageAsync(trail, last, ct);
                }

                if (path is not null)
                {
                    Console.Out.WriteLine($"Exported {count} records to {path}.");
                }

                return gaps ? ExitCodes.Failed : ExitCodes.Ok;
            }
        }, ct));

        var lines = new Option<int>("--lines") { Description = "How many of the newest records to show first.", DefaultValueFactory = _ => 20 };
        var follow = new Option<bool>("--follow") { Description = "Keep printing new records as they are written (Ctrl+C to stop)." };
        var tail = new Command("tail", "Show the newest records.") { lines, follow };
        tail.SetAction((p, ct) => WithTrailAsync(p, async trail =>
        {
            var newest = Math.Clamp(p.GetValue(lines), 1, AuditExportRecord.MaxPerAnswer);
            var first = await trail.NewestAsync(newest, ct);
            if (!FollowsOn(first, 0))
            {
                return ClientCommands.Fail("The newest audit records came out of order or incomplete: stopped.", ExitCodes.Failed);
            }

            var last = Print(first, 0);
            while (p.GetValue(follow) && !ct.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                    last = Print(await NextPageAsync(trail, last, ct), last);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            return ExitCodes.Ok;
        }, ct));

        var reseal = new Command("reseal", "After the data folder's audit-seal.key is lost for good: start sealing anew from the next record (the earlier seals can then no longer be checked).");
        reseal.SetAction((p, ct) => ResealAsync(p.GetValue(Data), ct));
        audit.Subcommands.Add(verify);
        audit.Subcommands.Add(reseal);
        audit.Subcommands.Add(export);
        audit.Subcommands.Add(tail);
        return audit;
    }

    private static async Task<int> ResealAsync(string? dataDirectory, CancellationToken cancellationToken)
    {
        if (!AdminCommands.HasDatabase(dataDirectory))
        {
            return ClientCommands.Fail("There is no database in that data folder.", ExitCodes.Usage);
        }

        var (databasePath, services) = AdminCommands.KeyProtectorOnly(dataDirectory);
        await using (services.ConfigureAwait(false))
        {
            try
            {
                var from = await Ema.Storage.Stores.AuditSealKeys.ResealAfterLossAsync(databasePath, services.GetRequiredService<Ema.Server.Security.IKeyProtector>(), services.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>(), TimeProvider.System, cancellationToken).ConfigureAwait(false);
                Console.Out.WriteLine($"A new seal key seals the audit trail from record #{from} on. The seals before it were made with the lost key: 'ema audit verify' no longer checks them, and says so.");
                return ExitCodes.Ok;
            }
            catch (InvalidOperationException ex)
            {
                return ClientCommands.Fail(ex.Message, ExitCodes.Failed);
            }
        }
    }

    // The data folder's trail, or the admin API's; a refused or failed API call has been explained on stderr by then.
    private static async Task<int> WithTrailAsync(ParseResult parse, Func<ITrail, Task<int>> action, CancellationToken cancellationToken)
    {
        try
        {
            return parse.GetValue(Remote)
                ? await action(new RemoteTrail(parse))
                : await AdminCommands.RunWithStorage(parse.GetValue(Data), (services, _) => action(new LocalTrail(services.GetRequiredService<IAuditTrail>())), cancellationToken, Ema.Storage.AuditSealUse.VerifyOnly);
        }
        catch (TrailReadFailedException failed)
        {
            return failed.ExitCode;
        }
    }

    /// <summary>
    /// The records after <paramref name="last"/>, in order: a page whose records do not all follow on (a server that
    /// ignores <c>after</c>, or one that reorders) is refused rather than written, so an export never loops or repeats.
    /// </summary>
    private static async Task<IReadOnlyList<AuditExportRecord>> NextPageAsync(ITrail trail, long last, CancellationToken cancellationToken)
    {
        var page = await trail.AfterAsync(last, PageSize, cancellationToken);
        if (!FollowsOn(page, last))
        {
            Console.Error.WriteLine($"ema: The audit trail did not page on after record #{last}: stopped (nothing of that page was written).");
            throw new TrailReadFailedException(ExitCodes.Failed);
        }

        return page;
    }

    /// <summary>Whether every record of <paramref name="page"/> is there and follows the one before it, the first after <paramref name="last"/>.</summary>
    internal static bool FollowsOn(IReadOnlyList<AuditExportRecord?> page, long last)
    {
        foreach (var record in page)
        {
            if (record is null || record.Sequence <= last)
            {
                return false;
            }

            last = record.Sequence;
        }

        return true;
    }

    /// <summary>
    /// Walks an export (JSON Lines with <c>seq</c> and <c>hash</c>, in order) beside the trail, a page at a time: the first
    /// exported record that is missing or has another hash is the problem — the trail was cut back, or rewritten at or
    /// before it. Only the two fields are read, so an export of any age compares.
    /// </summary>
    private static async Task<(string? Problem, long Compared)> CompareWithExportAsync(ITrail trail, string path, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(path);
        IReadOnlyList<AuditExportRecord> page = [];
        var index = 0;
        long compared = 0;
        long last = 0;
        var lineNumber = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            long sequence;
            string? hash;
            try
            {
                using var record = JsonDocument.Parse(line);
                sequence = record.RootElement.GetProperty("seq").GetInt64();

                // Records written before the chain existed have no hash (the export leaves nulls out): for those the
                // whole line is compared, since no chain protects their content.
                hash = record.RootElement.TryGetProperty("hash", out var h) ? h.GetString() : null;
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                return ($"line {lineNumber} of {path} is not an exported audit record", compared);
            }

            if (sequence <= last)
            {
                return ($"line {lineNumber} of {path} is out of order (record #{sequence} after #{last})", compared);
            }

            last = sequence;
            while (index < page.Count && page[index].Sequence < sequence)
            {
                index++;
            }

            if (index >= page.Count)
            {
                page = await trail.AfterAsync(sequence - 1, PageSize, cancellationToken);
                index = 0;
            }

            if (index >= page.Count || page[index].Sequence != sequence)
            {
                return ($"record #{sequence} of the export is no longer in the trail: records were removed", compared);
            }

            var differs = hash is not null
                ? !string.Equals(page[index].Hash, hash, StringComparison.Ordinal)
                : page[index].Hash is not null || !string.Equals(JsonSerializer.Serialize(page[index], AuditJson.Default.AuditExportRecord), line.Trim(), StringComparison.Ordinal);
            if (differs)
            {
                return ($"record #{sequence} differs from the exported copy: the trail was rewritten at or before it", compared);
            }

            compared++;
            index++;
        }

        return compared == 0 ? ($"{path} holds no exported audit record: nothing was compared", 0) : (null, compared);
    }

    private static long Print(IReadOnlyList<AuditExportRecord> records, long last)
    {
        foreach (var e in records)
        {
            // Each field may hold what an unauthenticated caller sent (a refused request's client id): one line each.
            Console.Out.WriteLine($"#{e.Sequence,-6} {e.Time:yyyy-MM-dd HH:mm:ss.fff} {TerminalText.Safe(e.Type),-15} {TerminalText.Safe(e.Outcome),-9} {TerminalText.Safe(e.ClientId),-12} {TerminalText.Safe(e.Subject),-12} {TerminalText.Safe(e.Resource)} {TerminalText.Safe(e.Scope)} {TerminalText.Safe(e.Outcome == AuditOutcomes.Denied ? e.Reason : e.TokenId)}");
        }

        return records.Count > 0 ? records[^1].Sequence : last;
    }

    private interface ITrail
    {
        Task<IReadOnlyList<AuditExportRecord>> AfterAsync(long afterSequence, int limit, CancellationToken cancellationToken);

        Task<IReadOnlyList<AuditExportRecord>> NewestAsync(int count, CancellationToken cancellationToken);

        Task<AuditChainReport> VerifyAsync(CancellationToken cancellationToken);
    }

    private sealed class LocalTrail(IAuditTrail trail) : ITrail
    {
        public Task<IReadOnlyList<AuditExportRecord>> AfterAsync(long afterSequence, int limit, CancellationToken cancellationToken) =>
            ReadAsync(() => trail.ReadAfterAsync(afterSequence, limit, cancellationToken));

        public Task<IReadOnlyList<AuditExportRecord>> NewestAsync(int count, CancellationToken cancellationToken) =>
            ReadAsync(() => trail.ReadNewestAsync(count, cancellationToken));

        private static async Task<IReadOnlyList<AuditExportRecord>> ReadAsync(Func<Task<IReadOnlyList<(long Sequence, string? Hash, AuditEvent Event)>>> read)
        {
            try
            {
                return Export(await read());
            }
            catch (AuditTrailUnreadableException unreadable)
            {
                Console.Error.WriteLine("ema audit: " + unreadable.Message);
                throw new TrailReadFailedException(ExitCodes.Failed);
            }
        }

        public Task<AuditChainReport> VerifyAsync(CancellationToken cancellationToken) => trail.VerifyChainAsync(cancellationToken);

        private static AuditExportRecord[] Export(IReadOnlyList<(long Sequence, string? Hash, AuditEvent Event)> records) =>
            [.. records.Select(r => AuditExportRecord.From(r.Sequence, r.Hash, r.Event))];
    }

    private sealed class RemoteTrail(ParseResult parse) : ITrail
    {
        public Task<IReadOnlyList<AuditExportRecord>> AfterAsync(long afterSequence, int limit, CancellationToken cancellationToken) =>
            RecordsAsync(FormattableString.Invariant($"after={afterSequence}&limit={limit}"), cancellationToken);

        public Task<IReadOnlyList<AuditExportRecord>> NewestAsync(int count, CancellationToken cancellationToken) =>
            RecordsAsync(FormattableString.Invariant($"newest={count}"), cancellationToken);

        // The server reads the whole trail for this answer: a large one takes longer than the API's usual minute.
        public async Task<AuditChainReport> VerifyAsync(CancellationToken cancellationToken) =>
            await GetAsync("/audit/verify", json => json.Deserialize(AuditJson.Default.AuditChainReport), cancellationToken, VerifyTimeout)
            ?? throw Unexpected();

        private async Task<IReadOnlyList<AuditExportRecord>> RecordsAsync(string query, CancellationToken cancellationToken) =>
            await GetAsync("/audit/records?" + query, json => json.Deserialize(AuditJson.Default.ListAuditExportRecord), cancellationToken)
            ?? throw Unexpected();

        private async Task<T?> GetAsync<T>(string relative, Func<JsonElement, T?> read, CancellationToken cancellationToken, TimeSpan? timeout = null)
            where T : class
        {
            T? value = null;
            var code = await AdminRemoteCommands.CallAsync(parse, "GET", relative, null, json =>
            {
                try
                {
                    value = read(json);
                }
                catch (JsonException)
                {
                    // not the shape asked for: reported as unexpected below
                }
            }, cancellationToken, timeout);
            return code == ExitCodes.Ok ? value : throw new TrailReadFailedException(code);
        }

        private static TrailReadFailedException Unexpected()
        {
            Console.Error.WriteLine("ema: The admin API answered with something other than audit records.");
            return new TrailReadFailedException(ExitCodes.Unavailable);
        }
    }

    // Reading the trail failed and the reason is on stderr already: the command ends with this exit code.
    private sealed class TrailReadFailedException(int exitCode) : Exception("Reading the audit trail failed.")
    {
        public int ExitCode { get; } = exitCode;
    }
}
