using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Ema.Storage;

/// <summary>
/// Group commit for SQLite writes that must be durable before the caller answers: callers enqueue an item and wait; one
/// writer takes whatever is queued, applies every item in one transaction (in order, one statement at a time, so each
/// item's own result — for example "was this key new?" — is exact), commits with <c>synchronous=FULL</c> (one fsync for
/// the batch), and only then releases each caller with its result. While other requests are in flight it yields briefly
/// before committing, so one fsync covers more of them (the idea of PostgreSQL's commit_delay/commit_siblings).
/// </summary>
/// <remarks>
/// One instance per database: SQLite has a single write lock, and two writers on two connections would make each other
/// back off on <c>SQLITE_BUSY</c>. Every group-committed write of the process (audit records, replay keys) goes through it,
/// so they share one transaction and one fsync per batch.
/// </remarks>
public sealed partial class SqliteWriteQueue : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private readonly SqliteDatabase _db;
    private readonly Channel<(Func<SqliteConnection, SqliteTransaction, Task<object?>> Apply, TaskCompletionSource<object?> Done)> _queue =
        Channel.CreateBounded<(Func<SqliteConnection, SqliteTransaction, Task<object?>>, TaskCompletionSource<object?>)>(new BoundedChannelOptions(100_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Lock _startLock = new();
    private Task? _writer;

    private readonly Action<Exception, int> _onFailure;

    public SqliteWriteQueue(SqliteDatabase db, Microsoft.Extensions.Logging.ILogger<SqliteWriteQueue> logger)
    {
        _db = db;
        _onFailure = (ex, count) => LogWriteFailed(logger, ex, count);
    }

    /// <summary>Runs <paramref name="apply"/> inside the next batch transaction and returns once it is durable; throws <see cref="GroupCommitException"/> when the batch failed.</summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> apply, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(apply);
        EnsureWriter();
        var done = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _queue.Writer.WriteAsync((async (c, t) => await apply(c, t).ConfigureAwait(false), done), cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex)
        {
            throw new GroupCommitException("The writer is shut down.", ex);
        }

        // Not cancellable once queued: the caller must learn whether its write happened before it answers.
        return (T)(await done.Task.ConfigureAwait(false))!;
    }

    private void EnsureWriter()
    {
        if (Volatile.Read(ref _writer) is not null)
        {
            return;
        }

        lock (_startLock)
        {
            _writer ??= Task.Run(LoopAsync);
        }
    }

    private async Task LoopAsync()
    {
        var batch = new List<(Func<SqliteConnection, SqliteTransaction, Task<object?>> Apply, TaskCompletionSource<object?> Done)>(MaxBatch);
        var results = new List<object?>(MaxBatch);
        var lastBatchSize = 0;
        SqliteConnection? connection = null;
        try
        {
            while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                Drain(batch);
                if (lastBatchSize > 1 && batch.Count < MaxBatch)
                {
                    // Under load, let the requests already running enqueue their writes once — no spinning and no
                    // timer: the group forms while the previous commit's fsync runs (a spin-wait here cost a third of
                    // the exchange's CPU, docs/benchmarks.md).
                    await Task.Yield();
                    Drain(batch);
                }

                lastBatchSize = batch.Count;
                results.Clear();
                try
                {
                    connection ??= await OpenAsync().ConfigureAwait(false);
                    var transaction = connection.BeginTransaction(deferred: false);
                    await using (transaction.ConfigureAwait(false))
                    {
                        foreach (var (apply, _) in batch)
                        {
                            results.Add(await apply(connection, transaction).ConfigureAwait(false));
                        }

                        await transaction.CommitAsync().ConfigureAwait(false);
                    }

                    for (var i = 0; i < batch.Count; i++)
                    {
                        batch[i].Done.TrySetResult(results[i]);
                    }
                }
                catch (Exception ex) when (ex is SqliteException or InvalidOperationException or IOException)
                {
                    _onFailure(ex, batch.Count);
                    foreach (var (_, done) in batch)
                    {
                        done.TrySetException(new GroupCommitException("The write could not be stored.", ex));
                    }

                    if (connection is not null)
                    {
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

    private void Drain(List<(Func<SqliteConnection, SqliteTransaction, Task<object?>>, TaskCompletionSource<object?>)> batch)
    {
        while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var entry))
        {
            batch.Add(entry);
        }
    }

    private async Task<SqliteConnection> OpenAsync()
    {
        var connection = await _db.OpenAsync(CancellationToken.None).ConfigureAwait(false);

        // FULL: each commit is fsynced before it returns, so a released write survives a crash or power loss.
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=FULL;";
        await pragma.ExecuteNonQueryAsync().ConfigureAwait(false);
        return connection;
    }

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 4002, Level = Microsoft.Extensions.Logging.LogLevel.Error, Message = "A group commit of {Count} writes failed; the decisions depending on them are refused")]
    private static partial void LogWriteFailed(Microsoft.Extensions.Logging.ILogger logger, Exception exception, int count);

    /// <summary>Stops accepting items and waits until every queued item is written.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }
    }
}

/// <summary>A group-committed write failed; the decision depending on it must not take effect.</summary>
public sealed class GroupCommitException : Exception
{
    public GroupCommitException()
    {
    }

    public GroupCommitException(string message)
        : base(message)
    {
    }

    public GroupCommitException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
