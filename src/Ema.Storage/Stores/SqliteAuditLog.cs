using System.Buffers;
using System.Text.Json;
using Dapper;
using Ema.Server.Audit;
using Microsoft.Data.Sqlite;

namespace Ema.Storage.Stores;

/// <summary>
/// The audit log in SQLite, written durably with group commit: callers enqueue an event and wait; the one writer drains
/// whatever is queued, chains the records (sequence, previous hash, hash), writes them as one block row in one
/// transaction with <c>synchronous=FULL</c> (WAL), commits — one fsync for the whole batch — and only then releases every
/// waiting caller. A caller therefore never answers before its record is on disk.
/// </summary>
/// <remarks>
/// Why blocks: one row per record with secondary indexes cost 14–25 µs of CPU per record (random B-tree inserts, and the
/// WAL pages they dirty), a quarter of a token exchange; a block costs one serialization and one hash per record. Lookups
/// by user, client, resource or token id read each block's key filter (<see cref="AuditKeyFilter"/>) and decode only the
/// blocks that may match; time filters use the block's time range.
/// </remarks>
public sealed partial class SqliteAuditLog : IAuditSink, IAuditReader, IAuditTrail, IAsyncDisposable
{
    private const int BlocksPerPage = 256;

    /// <summary>
    /// A block holds at most this many bytes of records (a batch may then write several blocks; a single record larger
    /// than this is a block of its own), so each block's byte array stays below the 85,000-byte large-object threshold: a burst of a few hundred records in one commit otherwise
    /// allocated its block on the large-object heap, whose collections are gen-2 (background) collections — 0.7–1.6 µs
    /// of CPU per token exchange at 256 connections (docs/benchmarks.md).
    /// </summary>
    internal const int MaxBlockBytes = 60 * 1024;

    /// <summary>The chain head: the newest block's last record number and hash (none for an empty trail).</summary>
    internal const string HeadSql = "SELECT last_seq, last_hash FROM audit_blocks ORDER BY first_seq DESC LIMIT 1";

    /// <summary>The chain head as stored (0 and no hash for an empty trail).</summary>
    internal static async Task<(long Sequence, string? Hash)> ReadHeadAsync(SqliteDatabase db, CancellationToken cancellationToken) =>
        (await db.RunAsync(c => c.QueryAsync<(long, string?)>(HeadSql), cancellationToken).ConfigureAwait(false)).FirstOrDefault();

    /// <summary>
    /// How much older than a newer block's records a later-committed record can be: a record's time is taken just before
    /// it is queued and it is committed within seconds. Searches stop at the first block that ends this much before
    /// their window.
    /// </summary>
    private const long OutOfOrderMarginMs = 15 * 60 * 1000;
    private readonly SqliteDatabase _db;
    private readonly SqliteWriteQueue _writer;
    private readonly PendingBlock _pending;
    private readonly Microsoft.Extensions.Logging.ILogger<SqliteAuditLog>? _logger;
    private readonly TimeProvider _time;
    private bool _sealKeyMissing;

    public SqliteAuditLog(SqliteDatabase db, SqliteWriteQueue writer, Microsoft.Extensions.Logging.ILogger<SqliteAuditLog>? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _db = db;
        _writer = writer;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _pending = writer.SharedStage(() => new PendingBlock(
            _time,
            (found, written) =>
            {
                if (logger is not null)
                {
                    Log.AuditHeadWentBack(logger, found, written);
                }
            },
            failure =>
            {
                if (logger is not null)
                {
                    Log.AuditHeadMarkNotWritten(logger, failure, AuditSeal.HeadFileName);
                }
            }));
    }

    /// <summary>
    /// Seals every block written from now on (the start-up task, once it has loaded the key) and checks seals in
    /// verification; the head mark left by the last run is where the chain must go on from, whatever the database says.
    /// </summary>
    /// <remarks>
    /// What this start finds is written into the trail itself, as sealed records that verification lists as warnings
    /// for good: a head mark that is missing or does not verify (someone may have cut the trail back and removed the
    /// mark to hide it — a log line alone would be gone with the next rotation), and the first record after
    /// <c>ema audit reseal</c>, which says why sealing starts there.
    /// </remarks>
    internal async Task UseSealAsync(AuditSeal seal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(seal);
        _pending.Seal = seal;
        var state = seal.ReadHeadMark(out var mark);
        if (state == HeadMarkState.Valid)
        {
            _pending.ResumeAfter(mark!.Value.Sequence, mark.Value.Hash);
        }
        else if (_logger is not null)
        {
            Log.AuditHeadMarkNotValid(_logger, AuditSeal.HeadFileName, state);
        }

        var (head, headHash) = await ReadHeadAsync(_db, cancellationToken).ConfigureAwait(false);
        var at = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"#{head} ({headHash ?? "no hash"})");
        if (seal.SealedFrom > 1 && head == seal.SealedFrom - 1)
        {
            var when = seal.CreatedAt is { } created ? created.ToString("u", System.Globalization.CultureInfo.InvariantCulture) : "an unrecorded time";
            await WriteAsync(Integrity(AuditIntegrityActions.SealingStarted, AuditOutcomes.Succeeded, $"sealing starts at this record: 'ema audit reseal' made a new seal key at {when} for a trail of {head} records ending at {at}; those records are covered by the chain, not by a seal"), cancellationToken).ConfigureAwait(false);
        }

        if (state != HeadMarkState.Valid)
        {
            var what = state switch { HeadMarkState.Missing => "missing", HeadMarkState.Unreadable => "unreadable", _ => "not verifiable under the seal key" };
            await WriteAsync(Integrity(AuditIntegrityActions.HeadMarkNotValid, AuditOutcomes.Failed, $"the head mark ({AuditSeal.HeadFileName}) was {what} when a process started: records written after {at} may have been removed before this start, and the mark that would show it is gone; compare with an export or a kept hash"), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Checks seals in verification without writing anything (a verifier that is not a writer; tests).</summary>
    internal void UseSealForVerificationOnly(AuditSeal seal) => _pending.Seal = seal;

    /// <summary>
    /// A reader's start: seals checked with the key if there is one; none on a trail with records is itself reported by
    /// verification (a writer would refuse to start), never read as "not sealed".
    /// </summary>
    internal async Task UseSealForVerificationAsync(AuditSeal? seal, CancellationToken cancellationToken)
    {
        if (seal is not null)
        {
            _pending.Seal = seal;
            return;
        }

        _sealKeyMissing = (await ReadHeadAsync(_db, cancellationToken).ConfigureAwait(false)).Sequence > 0;
    }

    private AuditEvent Integrity(string action, string outcome, string reason) => new()
    {
        Id = Ema.Server.Security.SecretHasher.NewOrderedId("evt_", _time.GetUtcNow()),
        Time = _time.GetUtcNow(),
        Type = AuditEventTypes.AuditIntegrity,
        Action = action,
        Outcome = outcome,
        Reason = reason,
    };

    /// <inheritdoc />
    public Task WriteAsync(AuditEvent auditEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);

        // One object per record, and no await on the common path: a token exchange writes one record, and every
        // allocation and state machine here is paid per exchange (docs/benchmarks.md).
        var write = new AuditWrite(auditEvent, _pending);
        var queued = _writer.EnqueueAsync(write, cancellationToken);
        return queued.IsCompletedSuccessfully ? write.Task : WhenQueuedAsync(queued, write);
    }

    /// <summary>
    /// Runs <paramref name="change"/> and appends the audit record made from its result in one transaction of the
    /// group commit: both are stored, or neither — for changes that must never be in force unrecorded (a policy version,
    /// a trust setting, an administrator's change to the directory). Neither is stored when the batch cannot be
    /// (<see cref="AuditUnavailableException"/>) or when the change or its record factory throws (that exception). A
    /// change that changed nothing (its record factory returns null: nothing to record) adds no record. The change runs
    /// on the writer thread inside the batch, so it must be a few short statements; it runs inside a savepoint, so if it
    /// throws, only its own statements are undone and only its caller sees the exception — the batch's other writes
    /// (token exchanges' records) are not failed by it.
    /// </summary>
    public async Task<T> WriteWithChangeAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> change, Func<T, AuditEvent?> record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(record);
        var write = new ChangeWrite<T>(change, record, _pending);
        try
        {
            await _writer.EnqueueAsync(write, cancellationToken).ConfigureAwait(false);
        }
        catch (GroupCommitException ex)
        {
            throw new AuditUnavailableException("The change and its audit record could not be stored.", ex);
        }

        return await write.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// A store's change with an optional audit record: without one, the change runs in a transaction of its own; with
    /// one, as <see cref="WriteWithChangeAsync"/>, and the record is stored when <paramref name="changed"/> says the
    /// change changed something (a duplicate insert, or an update of a row that is not there, records nothing).
    /// </summary>
    internal Task<T> ChangeAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> change, Func<T, bool> changed, AuditEvent? auditRecord, CancellationToken cancellationToken) =>
        auditRecord is null
            ? _db.TransactAsync(change, cancellationToken)
            : WriteWithChangeAsync(change, result => changed(result) ? auditRecord : null, cancellationToken);

    /// <summary><see cref="ChangeAsync"/> of one statement (<see cref="Db.ExecuteOneAsync"/>): true when it changed one row.</summary>
    internal Task<bool> ChangeOneAsync(string sql, object parameters, AuditEvent? auditRecord, CancellationToken cancellationToken) =>
        ChangeAsync((c, t) => Db.ExecuteOneAsync(c, t, sql, parameters), changed => changed, auditRecord, cancellationToken);

    private static async Task WhenQueuedAsync(ValueTask queued, AuditWrite write)
    {
        try
        {
            await queued.ConfigureAwait(false);
        }
        catch (GroupCommitException ex)
        {
            throw new AuditUnavailableException("The audit record could not be stored.", ex);
        }

        await write.Task.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AuditEvent>> ListAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var limit = query.Limit > 0 ? query.Limit : int.MaxValue; // as SQL's LIMIT -1: no limit
        ulong[] keys = [.. new[] { query.Subject, query.ClientId, query.Resource, query.TokenId }.OfType<string>().Select(AuditKeyFilter.Key)];
        return _db.RunAsync<IReadOnlyList<AuditEvent>>(async c =>
        {
            var found = new List<AuditEvent>(Math.Min(limit, 1000));
            var before = long.MaxValue;
            using var page = c.CreateCommand();
            // The time window is applied here, not in SQL: blocks come newest first (commit order), so once a block ends
            // well before `since` no older block can hold a match and the search stops — a WHERE on the times would make
            // SQLite scan every older block to fill a page (there is no index on them).
            page.CommandText = $"SELECT first_seq, key_filter, records, CAST(min_time AS INTEGER), CAST(max_time AS INTEGER) FROM audit_blocks WHERE first_seq < $before ORDER BY first_seq DESC LIMIT {BlocksPerPage}";
            var beforeParameter = page.Parameters.Add("$before", SqliteType.Integer);
            var since = Db.Ms(query.Since);
            var until = Db.Ms(query.Until);
            var exhausted = false;
            while (found.Count < limit && !exhausted)
            {
                beforeParameter.Value = before;
                var blocks = 0;
                var reader = await page.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (found.Count < limit && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        blocks++;
                        before = reader.GetInt64(0);
                        var minTime = reader.IsDBNull(3) ? long.MinValue : reader.GetInt64(3);
                        var maxTime = reader.IsDBNull(4) ? long.MaxValue : reader.GetInt64(4);
                        if (since is { } from && maxTime < from - OutOfOrderMarginMs)
                        {
                            exhausted = true;
                            break;
                        }

                        if ((since is { } lower && maxTime < lower) || (until is { } upper && minTime >= upper))
                        {
                            continue;
                        }

                        // The filter column comes before the records, so a block the filter rules out is never decoded.
                        if (keys.Length > 0 && !reader.IsDBNull(1))
                        {
                            var filter = reader.GetFieldValue<byte[]>(1);
                            if (!keys.All(key => AuditKeyFilter.MayContain(filter, key)))
                            {
                                continue;
                            }
                        }

                        // Newest first within the block too; unreadable lines (edited by hand) are left to the chain check.
                        foreach (var record in AuditBlockFormat.ReadLines(reader, 2).Reverse())
                        {
                            if (record is not null && Matches(record.Event, query))
                            {
                                found.Add(record.Event);
                                if (found.Count == limit)
                                {
                                    break;
                                }
                            }
                        }
                    }
                }

                if (blocks < BlocksPerPage)
                {
                    break;
                }
            }

            return found;
        }, cancellationToken);
    }

    private static bool Matches(AuditEvent e, AuditQuery q) =>
        (q.Subject is null || e.Subject == q.Subject) && (q.ClientId is null || e.ClientId == q.ClientId) && (q.Resource is null || e.Resource == q.Resource)
        && (q.Outcome is null || e.Outcome == q.Outcome) && (q.Type is null || e.Type == q.Type) && (q.Action is null || e.Action == q.Action)
        && (q.TokenId is null || e.TokenId == q.TokenId || e.ParentTokenId == q.TokenId || e.Id == q.TokenId)
        && (q.Since is null || Db.Ms(e.Time) >= Db.Ms(q.Since.Value)) && (q.Until is null || Db.Ms(e.Time) < Db.Ms(q.Until.Value));

    /// <summary>
    /// Recomputes the chain from the first record: the first record whose stored hash differs from its recomputed
    /// hash was edited; one whose previous-hash link or sequence number does not follow was preceded by a deletion,
    /// an insertion or a reordering. Each block's own columns (sequence and time range, count, last hash, key filter)
    /// are recomputed from its records too: edited, they could hide records from searches without touching the chain.
    /// </summary>
    public Task<AuditChainReport> VerifyChainAsync(CancellationToken cancellationToken) => _db.RunAsync(async c =>
    {
        long count = 0, expectedSequence = 0;
        var expectedPrevious = AuditChain.Genesis;
        var keys = new List<ulong>();

        // A broken link or an edited record is reported where it is; a block whose index data alone is wrong is reported
        // only if the chain itself is intact (deleting a block's last record also leaves that block's range stale).
        AuditChainReport? editedIndex = null;
        using var command = c.CreateCommand();
        command.CommandText = "SELECT first_seq, last_seq, record_count, min_time, max_time, last_hash, key_filter, records, typeof(last_seq) || typeof(record_count) || typeof(min_time) || typeof(max_time), seal FROM audit_blocks ORDER BY first_seq";
        var seal = _pending.Seal;

        // The record before the first sealed one, as it was when the seal key was made (its hash is in the key file): it
        // binds every record before sealing began, which no seal covers otherwise — deleted, or replaced by a made-up
        // history that ends just before the first sealed record.
        var anchorSeen = seal is null || seal.SealedFrom <= 1;

        // The head mark, read before the records (it is written after each commit, so it never runs ahead of what is
        // read next): the newest record an Ema process made durable must still be there, with the hash it had.
        (long Sequence, string Hash)? mark = null;
        var markState = seal?.ReadHeadMark(out mark) ?? HeadMarkState.Valid;
        var chainStarted = false;

        // What the trail recorded about itself (audit_integrity records): listed with every report, for good.
        var warnings = new List<string>();

        // Every report says how far the seals reach (or that they were not checked), and where the checked chain ends.
        AuditChainReport Report(long? brokenAt, string? id, string? problem) =>
            new(count, expectedPrevious, brokenAt, id, problem)
            {
                SealedFrom = seal?.SealedFrom, EarlierSealsLost = seal?.EarlierSealsLost ?? false, SealStartedAt = seal?.CreatedAt,
                HeadSequence = expectedSequence, Warnings = warnings,
            };

        // What the key file and the head mark hold about single records: the one before sealing began, the newest written.
        string? SealedRecordProblem(long sequence, string? hash)
        {
            if (seal?.IsAnchor(sequence) == true)
            {
                if (!seal.AnchorMatches(hash))
                {
                    return AnchorProblem(seal);
                }

                anchorSeen = true;
            }

            return mark is { } marked && sequence == marked.Sequence && !string.Equals(hash ?? AuditSeal.UnhashedMark, marked.Hash, StringComparison.Ordinal)
                ? $"it is not the record written as #{marked.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture)} ({AuditSeal.HeadFileName} holds its hash): the trail was rewritten after it was written"
                : null;
        }

        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var blockStart = reader.GetInt64(0);
                var records = AuditBlockFormat.ReadLines(reader, 7).ToList();
                foreach (var record in records)
                {
                    count++;
                    if (record is null)
                    {
                        return Report(Math.Max(expectedSequence + 1, blockStart), null, "it cannot be read (its text was edited)");
                    }

                    if (record.Hash is null)
                    {
                        // Written before the chain existed (migration 0003): only a leading run of such records, in
                        // increasing order, each migrated alone into a block without a key filter; the chain starts
                        // after the last of them. Anywhere else an unhashed record is an insertion.
                        if (chainStarted || record.Sequence <= expectedSequence || records.Count != 1 || !reader.IsDBNull(6))
                        {
                            return Report(record.Sequence, record.Event.Id, "it has no hash where the chain requires one (inserted)");
                        }

                        if (SealedRecordProblem(record.Sequence, null) is { } unhashedProblem)
                        {
                            return Report(record.Sequence, record.Event.Id, unhashedProblem);
                        }

                        expectedSequence = record.Sequence;
                        continue;
                    }

                    chainStarted = true;
                    string? problem = null;
                    if (record.Sequence != expectedSequence + 1)
                    {
                        problem = record.Sequence > expectedSequence + 1
                            ? $"records {expectedSequence + 1}–{record.Sequence - 1} are missing (deleted)"
                            : "it is out of order (records were reordered or inserted)";
                    }
                    else if (!string.Equals(record.PreviousHash, expectedPrevious, StringComparison.Ordinal))
                    {
                        problem = "its link to the previous record is broken (a record before it was deleted, inserted or reordered)";
                    }
                    else if (!string.Equals(record.Hash, HashOrNull(record), StringComparison.Ordinal))
                    {
                        problem = "its contents were changed after it was written";
                    }

                    if ((problem ?? SealedRecordProblem(record.Sequence, record.Hash)) is { } recordProblem)
                    {
                        return Report(record.Sequence, record.Event.Id, recordProblem);
                    }

                    expectedSequence = record.Sequence;
                    expectedPrevious = record.Hash;
                    if (record.Event.Type == AuditEventTypes.AuditIntegrity && record.Event.Action != AuditIntegrityActions.SealingStarted)
                    {
                        warnings.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"record #{record.Sequence} ({record.Event.Time:u}): {record.Event.Reason}"));
                    }
                }

                keys.Clear();
                foreach (var record in records)
                {
                    AuditKeyFilter.AddKeys(record!.Event, keys);
                }

                // A sealed trail: every block that reaches the key's first record carries the HMAC of its range and last
                // hash, computed from the records (not the block's columns). A rewritten chain cannot have it without the
                // key; a block whose seal was removed is as suspect as one whose seal is wrong; a block that straddles the
                // start of sealing was merged to dodge both checks. Before that start, a seal can only come from an
                // earlier key: lost (ema audit reseal says so, and those are not checkable) or — otherwise — replaced.
                if (seal is not null && records.Count > 0 && SealProblem(seal, records[0]!.Sequence, records[^1]!.Sequence, records[^1]!.Hash, reader.IsDBNull(9) ? null : reader.GetFieldValue<byte[]>(9)) is { } sealProblem)
                {
                    return Report(records[0]!.Sequence, records[0]!.Event.Id, sealProblem);
                }

                var times = records.Select(r => r!.Event.Time.ToUnixTimeMilliseconds()).ToList();
                var intact = records.Count > 0 && reader.GetString(8) == "integerintegerintegerinteger"
                    && reader.GetInt64(0) == records[0]!.Sequence && reader.GetInt64(1) == records[^1]!.Sequence && reader.GetInt64(2) == records.Count
                    && reader.GetInt64(3) == times.Min() && reader.GetInt64(4) == times.Max()
                    && (reader.IsDBNull(5) ? records[^1]!.Hash is null : reader.GetString(5) == records[^1]!.Hash)
                    && (reader.IsDBNull(6) || reader.GetFieldValue<byte[]>(6).AsSpan().SequenceEqual(AuditKeyFilter.Build(keys)));
                if (!intact)
                {
                    editedIndex ??= Report(blockStart, null, "the index data of its block (sequence or time range, count, last hash or key filter) does not match the records: it was edited, and searches could miss records");
                }
            }
        }

        if (!anchorSeen)
        {
            return Report(seal!.SealedFrom - 1, null, $"the trail ends before record {(seal.SealedFrom - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)}, the last one written before sealing began: records were removed");
        }

        if (_sealKeyMissing)
        {
            return Report(1, null, $"the seal key file ({AuditSeal.FileName}) is missing while the trail has records: its seals cannot be checked, and a rewrite hashes included would pass. Restore the file with the data folder's key ring; if it is lost for good, 'ema audit reseal' starts sealing anew");
        }

        if (markState != HeadMarkState.Valid)
        {
            var what = markState switch
            {
                HeadMarkState.Missing => "is missing (every seal key is made with one)",
                HeadMarkState.Unreadable => "cannot be read",
                _ => "does not verify under the seal key: it was edited",
            };
            return Report(expectedSequence + 1, null, $"the head mark ({AuditSeal.HeadFileName}) {what}; records at the end may have been removed — compare with an export or a kept hash. The next start of the IdP records this in the trail and marks the head again");
        }

        if (mark is { } last && expectedSequence < last.Sequence)
        {
            return Report(expectedSequence + 1, null, $"the trail ends at record #{expectedSequence.ToString(System.Globalization.CultureInfo.InvariantCulture)}, but records up to #{last.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture)} were written ({AuditSeal.HeadFileName}): records were removed");
        }

        return editedIndex is null ? Report(null, null, null) : editedIndex with { Records = count, HeadHash = expectedPrevious, HeadSequence = expectedSequence };
    }, cancellationToken);

    // A record too large to serialize (only a hand-made one: the writer could not have hashed it either) is a finding.
    private static string? HashOrNull(AuditRecord record)
    {
        try
        {
            return AuditChain.Hash(record.Sequence, record.PreviousHash!, record.Event);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or OutOfMemoryException)
        {
            return null;
        }
    }

    private static string AnchorProblem(AuditSeal seal) =>
        $"it is not the record the seal key was made after (the last one before record {seal.SealedFrom.ToString(System.Globalization.CultureInfo.InvariantCulture)}): the records before sealing began were replaced";

    private static string? SealProblem(AuditSeal seal, long first, long last, string? lastHash, byte[]? stored)
    {
        var from = seal.SealedFrom.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (last < seal.SealedFrom)
        {
            return stored is null || seal.EarlierSealsLost ? null : $"its block was sealed before the trail's seal key begins (record {from}): the seal key was replaced";
        }

        if (first < seal.SealedFrom)
        {
            return $"its block straddles record {from}, where sealing begins (blocks were merged)";
        }

        return stored is null ? $"its block has no seal although the trail is sealed from record {from} on (the seal was removed)"
            : lastHash is null || !seal.Matches(first, last, lastHash, stored) ? "its block's seal does not match its records: the chain was rewritten, hashes included, by someone without the seal key"
            : null;
    }

    /// <summary>Records in sequence order after <paramref name="afterSequence"/> (for export and tail), with their hashes.</summary>
    public Task<IReadOnlyList<(long Sequence, string? Hash, AuditEvent Event)>> ReadAfterAsync(long afterSequence, int limit, CancellationToken cancellationToken) => _db.RunAsync(async c =>
    {
        limit = limit > 0 ? limit : int.MaxValue;
        var records = new List<(long, string?, AuditEvent)>(Math.Min(limit, 1000));
        await foreach (var record in ReadFromAsync(c, afterSequence, cancellationToken).ConfigureAwait(false))
        {
            if (records.Count == limit)
            {
                break;
            }

            if (record is null)
            {
                var before = records.Count > 0 ? records[^1].Item1 : afterSequence;
                throw new AuditTrailUnreadableException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"A record after #{before} cannot be read (its text was edited): reading stops there; 'ema audit verify' names it."));
            }

            if (record.Sequence > afterSequence)
            {
                records.Add((record.Sequence, record.Hash, record.Event));
            }
        }

        return (IReadOnlyList<(long, string?, AuditEvent)>)records;
    }, cancellationToken);

    /// <summary>Number of stored records.</summary>
    public Task<long> CountAsync(CancellationToken cancellationToken) =>
        _db.RunAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(record_count), 0) FROM audit_blocks"), cancellationToken);

    /// <inheritdoc/>
    public Task<long> LastSequenceAsync(CancellationToken cancellationToken) =>
        _db.RunAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(last_seq), 0) FROM audit_blocks"), cancellationToken);

    // Every record from the block holding afterSequence + 1 on, in order, streamed (never the whole log in memory); null
    // stands for a line that does not parse.
    private static async IAsyncEnumerable<AuditRecord?> ReadFromAsync(SqliteConnection connection, long afterSequence, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();

        // By the primary key: from the last block starting at or before afterSequence (it may hold later records) on.
        command.CommandText = "SELECT records FROM audit_blocks WHERE first_seq >= COALESCE((SELECT first_seq FROM audit_blocks WHERE first_seq <= $after ORDER BY first_seq DESC LIMIT 1), 0) ORDER BY first_seq";
        command.Parameters.AddWithValue("$after", afterSequence);
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                foreach (var record in AuditBlockFormat.ReadLines(reader, 0))
                {
                    yield return record;
                }
            }
        }
    }

    /// <summary>Waits until every queued write is stored.</summary>
    public async ValueTask DisposeAsync()
    {
        await _writer.DisposeAsync().ConfigureAwait(false);
        _pending.MarkHead(force: true); // the writer has stopped: the last durable record is final
        _pending.Seal?.Dispose(); // the shared lock on the seal: ema audit reseal may run once no writer holds it
    }

    // A record on its way to disk; the caller's task completes when its batch is durable.
    private sealed class AuditWrite(AuditEvent auditEvent, PendingBlock block) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), IGroupCommitWrite
    {
        public IGroupCommitStage? Stage => block;

        public Task ApplyAsync(SqliteConnection connection, SqliteTransaction transaction) => block.AppendAsync(connection, transaction, auditEvent);

        public void Succeed() => TrySetResult();

        public void Fail(Exception error) => TrySetException(new AuditUnavailableException("The audit record could not be stored.", error));
    }

    private const string ChangeSavepoint = "ema_change";

    private sealed class ChangeWrite<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> change, Func<T, AuditEvent?> record, PendingBlock block)
        : TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously), IGroupCommitWrite
    {
        private T _result = default!;

        public IGroupCommitStage? Stage => block;

        private Exception? _refused;

        public async Task ApplyAsync(SqliteConnection connection, SqliteTransaction transaction)
        {
            // A savepoint per change: a change that throws (a constraint, a bug) is undone alone and told alone; the
            // batch — other callers' records — goes on. The audit append stays outside it: if that fails, the batch fails.
            transaction.Save(ChangeSavepoint);
            AuditEvent? auditEvent;
            try
            {
                _result = await change(connection, transaction).ConfigureAwait(false);
                auditEvent = record(_result);
                transaction.Release(ChangeSavepoint);
            }
            catch (Exception ex)
            {
                try
                {
                    transaction.Rollback(ChangeSavepoint);
                    transaction.Release(ChangeSavepoint);
                }
                catch (Exception rollback)
                {
                    // SQLite ended the whole transaction (a full disk, an I/O error): the batch fails for everyone, and
                    // the log and the callers see the cause, not only the savepoint that could no longer be rolled back.
                    throw new AggregateException("A change failed and took its batch's transaction with it.", ex, rollback);
                }

                _refused = ex;
                return;
            }

            if (auditEvent is not null)
            {
                await block.AppendAsync(connection, transaction, auditEvent).ConfigureAwait(false);
            }
        }

        public void Succeed()
        {
            if (_refused is { } refused)
            {
                TrySetException(refused);
            }
            else
            {
                TrySetResult(_result);
            }
        }

        public void Fail(Exception error) => TrySetException(new AuditUnavailableException("The change and its audit record could not be stored.", error));
    }

    /// <summary>
    /// The records of the batch being written: chained as they arrive and written as one block row when the batch
    /// flushes. Only the single writer of <see cref="SqliteWriteQueue"/> touches it, one item at a time.
    /// </summary>
    private sealed class PendingBlock : IGroupCommitStage
    {
        private const string InsertSql = "INSERT INTO audit_blocks (first_seq, last_seq, record_count, min_time, max_time, last_hash, key_filter, records, seal) VALUES ($first, $last, $count, $min, $max, $hash, $filter, $records, $seal)";

        // What a line adds to the canonical form: a comma, the quoted 64-character hash, the newline.
        private const int LineOverhead = 68;
        private readonly ArrayBufferWriter<byte> _canonical = new(1024);
        private readonly ArrayBufferWriter<byte> _records = new(64 * 1024);
        private readonly List<ulong> _keys = new(256);
        private readonly Utf8JsonWriter _json;
        private SqliteCommand? _insert;
        private SqliteCommand? _head;
        private SqliteTransaction? _transaction;
        private long _sequence;
        private string _hash = AuditChain.Genesis;
        private long _first;
        private int _count;
        private long _minTime;
        private long _maxTime;
        private AuditSeal? _seal;
        private readonly Action<long, long> _headWentBack;
        private readonly Action<Exception> _markFailed;
        private long _markFailureReportedAt = long.MinValue;
        private readonly TimeProvider _time;
        private static readonly TimeSpan MarkInterval = TimeSpan.FromSeconds(1);
        private long _markedAt;
        private long _markedSequence = -1;

        // The head this writer last made durable: the trail on disk can only grow past it.
        private long _committedSequence = -1;
        private string? _committedHash;

        public PendingBlock(TimeProvider time, Action<long, long> headWentBack, Action<Exception> markFailed)
        {
            _json = new Utf8JsonWriter(_canonical);
            _time = time;
            _headWentBack = headWentBack;
            _markFailed = markFailed;
        }

        /// <summary>Set once, at start-up, before any record is written (read by the writer and by verification).</summary>
        public AuditSeal? Seal
        {
            get => Volatile.Read(ref _seal);
            set => Volatile.Write(ref _seal, value);
        }

        public Task AppendAsync(SqliteConnection connection, SqliteTransaction transaction, AuditEvent e)
        {
            if (!ReferenceEquals(_transaction, transaction))
            {
                return StartBlockAsync(connection, transaction, e);
            }

            var hash = Chain(e);
            if (_count > 0 && _records.WrittenCount + _canonical.WrittenCount + LineOverhead > MaxBlockBytes)
            {
                return WriteBlockThenAddAsync(connection, transaction, e, hash);
            }

            Add(e, hash);
            return Task.CompletedTask;
        }

        private async Task StartBlockAsync(SqliteConnection connection, SqliteTransaction transaction, AuditEvent e)
        {
            // The chain head is read once per batch transaction, inside it (the write lock is held: another process
            // appending to the same file waits), and then carried from record to record of the batch; a batch that rolls
            // back leaves no gap and no fork, because the next transaction reads what is really on disk.
            Discard();
            await ReadHeadAsync(connection, transaction).ConfigureAwait(false);
            _transaction = transaction;
            Add(e, Chain(e));
        }

        // A large batch becomes several blocks in the same transaction; the chain runs on across them unchanged (the
        // record was chained already: writing the block does not touch the sequence or the head hash).
        private async Task WriteBlockThenAddAsync(SqliteConnection connection, SqliteTransaction transaction, AuditEvent e, string hash)
        {
            await FlushAsync(connection, transaction).ConfigureAwait(false);
            Add(e, hash);
        }

        // The record's canonical form (in _canonical) and hash, as the next record of the chain.
        private string Chain(AuditEvent e)
        {
            _canonical.ResetWrittenCount();
            _json.Reset(_canonical);
            AuditChain.WriteCanonical(_json, _sequence + 1, _hash, e);
            _json.Flush();
            return AuditChain.HashCanonical(_canonical.WrittenSpan);
        }

        // Appends the record just chained to the block and moves the chain head on.
        private void Add(AuditEvent e, string hash)
        {
            var sequence = _sequence + 1;
            AuditBlockFormat.AppendLine(_records, _canonical.WrittenSpan, hash);

            var time = e.Time.ToUnixTimeMilliseconds();
            if (_count == 0)
            {
                (_first, _minTime, _maxTime) = (sequence, time, time);
            }

            (_minTime, _maxTime) = (Math.Min(_minTime, time), Math.Max(_maxTime, time));
            _count++;
            AuditKeyFilter.AddKeys(e, _keys);
            (_sequence, _hash) = (sequence, hash);
        }

        public async Task FlushAsync(SqliteConnection connection, SqliteTransaction transaction)
        {
            if (_count == 0)
            {
                return;
            }

            if (_insert is null || _insert.Connection != connection)
            {
                _insert = connection.CreateCommand();
                _insert.CommandText = InsertSql;
                foreach (var name in (string[])["$first", "$last", "$count", "$min", "$max", "$hash", "$filter", "$records", "$seal"])
                {
                    _insert.Parameters.Add(new SqliteParameter { ParameterName = name });
                }
            }

            _insert.Transaction = transaction;
            // Sealed once the start-up has loaded the key (AuditSeal): one HMAC per block, not per record.
            object seal = Seal is { } key ? key.Compute(_first, _sequence, _hash) : DBNull.Value;
            object[] values = [_first, _sequence, _count, _minTime, _maxTime, _hash, AuditKeyFilter.Build(_keys), _records.WrittenSpan.ToArray(), seal];
            for (var i = 0; i < values.Length; i++)
            {
                _insert.Parameters[i].Value = values[i];
            }

            await _insert.ExecuteNonQueryAsync().ConfigureAwait(false);
            ClearBlock();
        }

        public void Committed()
        {
            if (_transaction is not null)
            {
                (_committedSequence, _committedHash) = (_sequence, _hash);
                MarkHead(force: false);
            }

            _transaction = null;
        }

        /// <summary>The head mark of the last run: the chain goes on from it if the database ends before it (ReadHeadAsync).</summary>
        public void ResumeAfter(long sequence, string hash)
        {
            if (_committedSequence < 0)
            {
                (_committedSequence, _committedHash) = (sequence, hash);
                _markedSequence = sequence;
            }
        }

        /// <summary>When the writer is idle: the head mark still owed, once its second has passed (at most a second late).</summary>
        public TimeSpan? Idle()
        {
            if (Seal is null || _committedSequence <= _markedSequence || _committedHash is null)
            {
                return null;
            }

            var waited = _time.GetElapsedTime(_markedAt);
            if (waited < MarkInterval)
            {
                return MarkInterval - waited;
            }

            MarkHead(force: true);
            return null;
        }

        /// <summary>
        /// Writes the head mark (AuditSeal.HeadFileName) for the newest durable record: at most once a second from the
        /// writer (after a commit, or when idle), and at shutdown. Best effort: a failed write leaves the previous mark,
        /// which is only older.
        /// </summary>
        public void MarkHead(bool force)
        {
            if (Seal is not { } seal || _committedSequence <= _markedSequence || _committedHash is null)
            {
                return;
            }

            var now = _time.GetTimestamp();
            if (!force && _markedSequence >= 0 && _time.GetElapsedTime(_markedAt, now) < MarkInterval)
            {
                return;
            }

            try
            {
                seal.WriteHeadMark(_committedSequence, _committedHash);
                (_markedAt, _markedSequence) = (now, _committedSequence);
            }
            catch (Exception ex)
            {
                // Kept as it was (a full disk, a permission): the next commit tries again. Never thrown from the writer
                // after a commit — its callers' records are durable —, but said, once a minute: while the mark stands
                // still, a trail cut back at its end goes unnoticed.
                if (_markFailureReportedAt == long.MinValue || _time.GetElapsedTime(_markFailureReportedAt, now) >= TimeSpan.FromMinutes(1))
                {
                    _markFailureReportedAt = now;
                    try
                    {
                        _markFailed(ex);
                    }
                    catch (Exception)
                    {
                        // A failing logger must not fail the writer.
                    }
                }
            }
        }

        public void Discard()
        {
            ClearBlock();
            _transaction = null;
        }

        private void ClearBlock()
        {
            _records.ResetWrittenCount();
            _keys.Clear();
            _count = 0;
        }

        private async Task ReadHeadAsync(SqliteConnection connection, SqliteTransaction transaction)
        {
            if (_head is null || _head.Connection != connection)
            {
                _head = connection.CreateCommand();
                _head.CommandText = HeadSql;
            }

            _head.Transaction = transaction;
            (_sequence, _hash) = (0, AuditChain.Genesis);
            var reader = await _head.ExecuteReaderAsync().ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (await reader.ReadAsync().ConfigureAwait(false))
                {
                    _sequence = reader.GetInt64(0);
                    _hash = reader.IsDBNull(1) ? AuditChain.Genesis : reader.GetString(1);
                }
            }

            // Records this writer made durable are gone, or the newest was rewritten, while it ran: someone cut the trail
            // back under it (the one change the chain and the seals cannot see at the end). Chaining on from what it wrote,
            // not from what is left, makes the cut a gap that verification reports; and it is logged now.
            if (_committedSequence >= 0 && (_sequence < _committedSequence || (_sequence == _committedSequence && !string.Equals(_hash, _committedHash, StringComparison.Ordinal))))
            {
                var found = _sequence;
                (_sequence, _hash) = (_committedSequence, _committedHash!);
                try
                {
                    _headWentBack(found, _committedSequence);
                }
                catch (Exception)
                {
                    // A failing logger must not fail the batch (and with it every later one).
                }
            }
        }
    }

    private static partial class Log
    {
        [Microsoft.Extensions.Logging.LoggerMessage(EventId = 4004, Level = Microsoft.Extensions.Logging.LogLevel.Error, Message = "The audit trail on disk ends at record {Found}, but this process had written up to record {Written}: records were removed or rewritten while it ran. It chains on from {Written}, so verification reports the gap")]
        public static partial void AuditHeadWentBack(Microsoft.Extensions.Logging.ILogger logger, long found, long written);

        [Microsoft.Extensions.Logging.LoggerMessage(EventId = 4005, Level = Microsoft.Extensions.Logging.LogLevel.Error, Message = "The audit trail's head mark ({File}) is {State} at start: records at the end may have been removed. A sealed audit_integrity record says so in the trail (ema audit verify lists it); the writer goes on from the database's head")]
        public static partial void AuditHeadMarkNotValid(Microsoft.Extensions.Logging.ILogger logger, string file, HeadMarkState state);

        [Microsoft.Extensions.Logging.LoggerMessage(EventId = 4006, Level = Microsoft.Extensions.Logging.LogLevel.Warning, Message = "The audit trail's head mark ({File}) could not be written (reported at most once a minute): until it is, a trail cut back at its end is not detected")]
        public static partial void AuditHeadMarkNotWritten(Microsoft.Extensions.Logging.ILogger logger, Exception exception, string file);
    }
}
