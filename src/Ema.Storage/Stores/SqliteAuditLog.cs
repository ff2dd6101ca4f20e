using System.Diagnostics;
using System.Threading.Channels;
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
public sealed partial class SqliteAuditLog : IAuditSink, IAuditReader, IAsyncDisposable
{
    private const int MaxBatch = 512;
    private static readonly TimeSpan CommitDelay = TimeSpan.FromMilliseconds(1);
    private const string Columns = "id AS Id, time AS Time, type AS Type, outcome AS Outcome, action AS Action, error_id AS ErrorId, reason AS Reason, client_id AS ClientId, subject AS Subject, resource AS Resource, audience AS Audience, scope AS Scope, token_id AS TokenId, parent_token_id AS ParentTokenId, session_id AS SessionId, remote_address AS RemoteAddress";
    private readonly SqliteDatabase _db;
    private readonly ILogger<SqliteAuditLog> _logger;
    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(100_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Lock _startLock = new();
    private Task? _writer;

    public SqliteAuditLog(SqliteDatabase db, ILogger<SqliteAuditLog> logger)
    {
        _db = db;
        _logger = logger;
    }

    private sealed record Pending(AuditEvent Event, TaskCompletionSource Done);

    /// <inheritdoc />
    public async Task WriteAsync(AuditEvent auditEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        EnsureWriter();
        var pending = new Pending(auditEvent, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            await _queue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex)
        {
            throw new AuditUnavailableException("The audit log is shut down.", ex);
        }

        // Not cancellable once queued: the caller must learn whether its record was stored before it answers.
        await pending.Done.Task.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AuditEvent>> ListAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var sql = $"SELECT {Columns} FROM audit_events WHERE (@Subject IS NULL OR subject = @Subject) AND (@ClientId IS NULL OR client_id = @ClientId) AND (@Resource IS NULL OR resource = @Resource) AND (@Outcome IS NULL OR outcome = @Outcome) AND (@TokenId IS NULL OR token_id = @TokenId OR parent_token_id = @TokenId OR id = @TokenId) AND (@since IS NULL OR time >= @since) ORDER BY seq DESC LIMIT @Limit";
        var rows = await _db.RunAsync(c => c.QueryAsync<Row>(sql, new { query.Subject, query.ClientId, query.Resource, query.Outcome, query.TokenId, since = Db.Ms(query.Since), query.Limit }), cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToModel())];
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

    private void EnsureWriter()
    {
        if (Volatile.Read(ref _writer) is not null)
        {
            return;
        }

        lock (_startLock)
        {
            _writer ??= Task.Run(WriteLoopAsync);
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        var lastBatchSize = 0;
        SqliteConnection? connection = null;
        try
        {
            while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item))
                {
                    batch.Add(item);
                }

                // Group commit under load (the idea of PostgreSQL's commit_delay/commit_siblings): when the previous
                // batch had company, wait a moment so one fsync covers more records. Alone, commit at once.
                if (lastBatchSize > 1 && batch.Count < MaxBatch)
                {
                    // Yield a few times (no timer): requests already in flight get to enqueue before the fsync.
                    var deadline = Stopwatch.GetTimestamp() + (long)(CommitDelay.TotalSeconds * Stopwatch.Frequency);
                    while (batch.Count < lastBatchSize * 2 && batch.Count < MaxBatch && Stopwatch.GetTimestamp() < deadline)
                    {
                        await Task.Yield();
                        while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item))
                        {
                            batch.Add(item);
                        }
                    }
                }

                lastBatchSize = batch.Count;

                try
                {
                    connection ??= await OpenWriterAsync().ConfigureAwait(false);
                    await CommitAsync(connection, batch).ConfigureAwait(false);
                    foreach (var item in batch)
                    {
                        item.Done.TrySetResult();
                    }
                }
                catch (Exception ex) when (ex is SqliteException or InvalidOperationException or IOException)
                {
                    LogWriteFailed(_logger, ex, batch.Count);
                    foreach (var item in batch)
                    {
                        item.Done.TrySetException(new AuditUnavailableException("The audit record could not be stored.", ex));
                    }

                    if (connection is not null)
                    {
                        _insert?.Dispose();
                        _insert = null;
                        await connection.DisposeAsync().ConfigureAwait(false);
                        connection = null;
                    }
                }
            }
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<SqliteConnection> OpenWriterAsync()
    {
        var connection = await _db.OpenAsync(CancellationToken.None).ConfigureAwait(false);

        // FULL: each commit is fsynced before it returns, so a released record survives a crash or power loss.
        await connection.ExecuteAsync("PRAGMA synchronous=FULL;").ConfigureAwait(false);
        return connection;
    }

    private const string InsertSql = "INSERT INTO audit_events (id, time, type, outcome, action, error_id, reason, client_id, subject, resource, audience, scope, token_id, parent_token_id, session_id, remote_address) VALUES (@id, @time, @type, @outcome, @action, @error_id, @reason, @client_id, @subject, @resource, @audience, @scope, @token_id, @parent_token_id, @session_id, @remote_address)";

    private SqliteCommand? _insert;

    private async Task CommitAsync(SqliteConnection connection, List<Pending> batch)
    {
        var transaction = connection.BeginTransaction(deferred: false);
        await using (transaction.ConfigureAwait(false))
        {
            // One prepared statement for the writer's lifetime: SQLite parses the INSERT once, not once per record.
            if (_insert is null || _insert.Connection != connection)
            {
                _insert = connection.CreateCommand();
                _insert.CommandText = InsertSql;
                foreach (var name in new[] { "@id", "@time", "@type", "@outcome", "@action", "@error_id", "@reason", "@client_id", "@subject", "@resource", "@audience", "@scope", "@token_id", "@parent_token_id", "@session_id", "@remote_address" })
                {
                    _insert.Parameters.Add(new SqliteParameter { ParameterName = name });
                }
            }

            _insert.Transaction = transaction;
            foreach (var item in batch)
            {
                var e = item.Event;
                var p = _insert.Parameters;
                p[0].Value = e.Id;
                p[1].Value = Db.Ms(e.Time);
                p[2].Value = e.Type;
                p[3].Value = e.Outcome;
                p[4].Value = (object?)e.Action ?? DBNull.Value;
                p[5].Value = (object?)e.ErrorId ?? DBNull.Value;
                p[6].Value = (object?)e.Reason ?? DBNull.Value;
                p[7].Value = (object?)e.ClientId ?? DBNull.Value;
                p[8].Value = (object?)e.Subject ?? DBNull.Value;
                p[9].Value = (object?)e.Resource ?? DBNull.Value;
                p[10].Value = (object?)e.Audience ?? DBNull.Value;
                p[11].Value = (object?)e.Scope ?? DBNull.Value;
                p[12].Value = (object?)e.TokenId ?? DBNull.Value;
                p[13].Value = (object?)e.ParentTokenId ?? DBNull.Value;
                p[14].Value = (object?)e.SessionId ?? DBNull.Value;
                p[15].Value = (object?)e.RemoteAddress ?? DBNull.Value;
                await _insert.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            await transaction.CommitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops accepting events and waits until every queued event is stored.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Error, Message = "Writing {Count} audit records failed; their decisions are refused")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int count);
}
