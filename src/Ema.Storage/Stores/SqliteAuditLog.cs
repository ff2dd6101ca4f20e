using Dapper;
using Ema.Server.Audit;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Ema.Storage.Stores;

/// <summary>
/// The audit log in SQLite, written durably with group commit: callers enqueue an event and wait; one writer drains
/// whatever is queued, inserts it in one transaction with <c>synchronous=FULL</c> (WAL), commits — one fsync for the
/// whole batch — and only then releases every waiting caller. A caller therefore never answers before its record is on
/// disk, and durability costs one fsync per batch, not per request.
/// </summary>
public sealed class SqliteAuditLog : IAuditSink, IAuditReader, IAsyncDisposable
{
    private const string Columns = "id AS Id, time AS Time, type AS Type, outcome AS Outcome, action AS Action, error_id AS ErrorId, reason AS Reason, client_id AS ClientId, subject AS Subject, resource AS Resource, audience AS Audience, scope AS Scope, token_id AS TokenId, parent_token_id AS ParentTokenId, session_id AS SessionId, remote_address AS RemoteAddress";
    private const string InsertSql = "INSERT INTO audit_events (id, time, type, outcome, action, error_id, reason, client_id, subject, resource, audience, scope, token_id, parent_token_id, session_id, remote_address, seq, prev_hash, hash) VALUES (@id, @time, @type, @outcome, @action, @error_id, @reason, @client_id, @subject, @resource, @audience, @scope, @token_id, @parent_token_id, @session_id, @remote_address, @seq, @prev_hash, @hash)";
    private const string HeadSql = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1";
    private static readonly string[] ParameterNames = ["@id", "@time", "@type", "@outcome", "@action", "@error_id", "@reason", "@client_id", "@subject", "@resource", "@audience", "@scope", "@token_id", "@parent_token_id", "@session_id", "@remote_address", "@seq", "@prev_hash", "@hash"];
    private readonly SqliteDatabase _db;
    private readonly SqliteWriteQueue _writer;
    private SqliteCommand? _insert;
    private SqliteCommand? _head;
    private SqliteTransaction? _chainTransaction;
    private long _chainSequence;
    private string _chainHash = AuditChain.Genesis;

    public SqliteAuditLog(SqliteDatabase db, SqliteWriteQueue writer)
    {
        _db = db;
        _writer = writer;
    }

    /// <inheritdoc />
    public async Task WriteAsync(AuditEvent auditEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        try
        {
            await _writer.WriteAsync((c, t) => ApplyAsync(c, t, auditEvent), cancellationToken).ConfigureAwait(false);
        }
        catch (GroupCommitException ex)
        {
            throw new AuditUnavailableException("The audit record could not be stored.", ex);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AuditEvent>> ListAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var sql = $"SELECT {Columns} FROM audit_events WHERE (@Subject IS NULL OR subject = @Subject) AND (@ClientId IS NULL OR client_id = @ClientId) AND (@Resource IS NULL OR resource = @Resource) AND (@Outcome IS NULL OR outcome = @Outcome) AND (@TokenId IS NULL OR token_id = @TokenId OR parent_token_id = @TokenId OR id = @TokenId) AND (@since IS NULL OR time >= @since) AND (@until IS NULL OR time < @until) AND (@Type IS NULL OR type = @Type) ORDER BY seq DESC LIMIT @Limit";
        var rows = await _db.RunAsync(c => c.QueryAsync<Row>(sql, new { query.Subject, query.ClientId, query.Resource, query.Outcome, query.TokenId, since = Db.Ms(query.Since), until = Db.Ms(query.Until), query.Type, query.Limit }), cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToModel())];
    }

    /// <summary>
    /// Recomputes the chain from the first record: the first record whose stored hash differs from its recomputed
    /// hash was edited; one whose previous-hash link or sequence number does not follow was preceded by a deletion,
    /// an insertion or a reordering.
    /// </summary>
    public Task<AuditChainReport> VerifyChainAsync(CancellationToken cancellationToken) => _db.RunAsync(async c =>
    {
        var rows = await c.QueryAsync<ChainRow>($"SELECT seq AS Seq, prev_hash AS PrevHash, hash AS Hash, {Columns} FROM audit_events ORDER BY seq").ConfigureAwait(false);
        long count = 0, expectedSequence = 0;
        var expectedPrevious = AuditChain.Genesis;
        foreach (var row in rows)
        {
            count++;
            if (row.Hash is null)
            {
                // Written before the chain existed (migration 0003): the chain starts after the last such record.
                expectedSequence = row.Seq;
                continue;
            }

            var record = row.ToModel();
            string? problem = null;
            if (expectedSequence != 0 && row.Seq != expectedSequence + 1)
            {
                problem = $"records {expectedSequence + 1}–{row.Seq - 1} are missing (deleted)";
            }
            else if (!string.Equals(row.PrevHash, expectedPrevious, StringComparison.Ordinal))
            {
                problem = "its link to the previous record is broken (a record before it was deleted, inserted or reordered)";
            }
            else if (!string.Equals(row.Hash, AuditChain.Hash(row.Seq, row.PrevHash!, record), StringComparison.Ordinal))
            {
                problem = "its contents were changed after it was written";
            }

            if (problem is not null)
            {
                return new AuditChainReport(count, expectedPrevious, row.Seq, row.Id, problem);
            }

            expectedSequence = row.Seq;
            expectedPrevious = row.Hash;
        }

        return new AuditChainReport(count, expectedPrevious, null, null, null);
    }, cancellationToken);

    /// <summary>Records in sequence order after <paramref name="afterSequence"/> (for export and tail), with their hashes.</summary>
    public Task<IReadOnlyList<(long Sequence, string? Hash, AuditEvent Event)>> ReadAfterAsync(long afterSequence, int limit, CancellationToken cancellationToken) => _db.RunAsync(async c =>
    {
        var rows = await c.QueryAsync<ChainRow>($"SELECT seq AS Seq, prev_hash AS PrevHash, hash AS Hash, {Columns} FROM audit_events WHERE seq > @afterSequence ORDER BY seq LIMIT @limit", new { afterSequence, limit }).ConfigureAwait(false);
        return (IReadOnlyList<(long, string?, AuditEvent)>)[.. rows.Select(r => (r.Seq, r.Hash, r.ToModel()))];
    }, cancellationToken);

    private sealed record ChainRow(long Seq, string? PrevHash, string? Hash, string Id, long Time, string Type, string Outcome, string? Action, string? ErrorId, string? Reason, string? ClientId, string? Subject, string? Resource, string? Audience, string? Scope, string? TokenId, string? ParentTokenId, string? SessionId, string? RemoteAddress)
    {
        public AuditEvent ToModel() => new Row(Id, Time, Type, Outcome, Action, ErrorId, Reason, ClientId, Subject, Resource, Audience, Scope, TokenId, ParentTokenId, SessionId, RemoteAddress).ToModel();
    }

    /// <summary>Number of stored records.</summary>
    public Task<long> CountAsync(CancellationToken cancellationToken) =>
        _db.RunAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_events"), cancellationToken);

    private sealed record Row(string Id, long Time, string Type, string Outcome, string? Action, string? ErrorId, string? Reason, string? ClientId, string? Subject, string? Resource, string? Audience, string? Scope, string? TokenId, string? ParentTokenId, string? SessionId, string? RemoteAddress)
    {
        public AuditEvent ToModel() => new()
        {
            Id = Id, Time = Db.Time(Time), Type = Type, Outcome = Outcome, Action = Action, ErrorId = ErrorId, Reason = Reason, ClientId = ClientId, Subject = Subject,
            Resource = Resource, Audience = Audience, Scope = Scope, TokenId = TokenId, ParentTokenId = ParentTokenId, SessionId = SessionId, RemoteAddress = RemoteAddress,
        };
    }

    // Runs on the writer inside the batch transaction, with one statement prepared for the writer's connection.
    private async Task<bool> ApplyAsync(SqliteConnection connection, SqliteTransaction transaction, AuditEvent e)
    {
        if (_insert is null || _insert.Connection != connection)
        {
            _insert = connection.CreateCommand();
            _insert.CommandText = InsertSql;
            foreach (var name in ParameterNames)
            {
                _insert.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
        }

        if (_head is null || _head.Connection != connection)
        {
            _head = connection.CreateCommand();
            _head.CommandText = HeadSql;
        }

        // The chain head is read once per batch transaction, inside it, and then carried from record to record of the
        // batch; a batch that rolls back leaves no gap and no fork, because the next transaction reads what is really
        // on disk. (Only the single writer runs this, one item at a time.)
        if (!ReferenceEquals(_chainTransaction, transaction))
        {
            _head.Transaction = transaction;
            _chainSequence = 0;
            _chainHash = AuditChain.Genesis;
            var reader = await _head.ExecuteReaderAsync().ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (await reader.ReadAsync().ConfigureAwait(false))
                {
                    _chainSequence = reader.GetInt64(0);
                    _chainHash = reader.IsDBNull(1) ? AuditChain.Genesis : reader.GetString(1);
                }
            }

            _chainTransaction = transaction;
        }

        var previousHash = _chainHash;
        var sequence = _chainSequence + 1;
        var hash = AuditChain.Hash(sequence, previousHash, e with { Time = Db.Time(Db.Ms(e.Time)) });
        _insert.Transaction = transaction;
        object?[] values = [e.Id, Db.Ms(e.Time), e.Type, e.Outcome, e.Action, e.ErrorId, e.Reason, e.ClientId, e.Subject, e.Resource, e.Audience, e.Scope, e.TokenId, e.ParentTokenId, e.SessionId, e.RemoteAddress, sequence, previousHash, hash];
        for (var i = 0; i < values.Length; i++)
        {
            _insert.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        await _insert.ExecuteNonQueryAsync().ConfigureAwait(false);
        (_chainSequence, _chainHash) = (sequence, hash);
        return true;
    }

    /// <summary>Waits until every queued write is stored.</summary>
    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
