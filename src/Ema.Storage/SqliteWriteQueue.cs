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
    private readonly Channel<IGroupCommitWrite> _queue =
        Channel.CreateBounded<IGroupCommitWrite>(new BoundedChannelOptions(100_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Lock _startLock = new();
    private readonly Lock _stagesLock = new();

    // Copied on write (stages are made once, at start): the writer reads them without a lock or an allocation each time
    // it goes idle.
    private IGroupCommitStage[] _stages = [];

    // Set by every enqueue; the writer sleeps on it when the queue is empty. No spinning: on a small machine the spin
    // would take the CPU the requests need.
    private readonly ManualResetEventSlim _queued = new(initialState: false, spinCount: 0);
    private Task? _writer;

    private readonly Action<Exception, int> _onFailure;

    private readonly Ema.Server.EmaMetrics? _metrics;

    public SqliteWriteQueue(SqliteDatabase db, Microsoft.Extensions.Logging.ILogger<SqliteWriteQueue> logger, Ema.Server.EmaMetrics? metrics = null)
    {
        _db = db;
        _metrics = metrics;
        _onFailure = (ex, count) => LogWriteFailed(logger, ex, count);
    }

    /// <summary>Runs <paramref name="apply"/> inside the next batch transaction and returns once it is durable; throws <see cref="GroupCommitException"/> when the batch failed.</summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> apply, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(apply);
        var write = new FuncWrite<T>(apply);
        await EnqueueAsync(write, cancellationToken).ConfigureAwait(false);

        // Not cancellable once queued: the caller must learn whether its write happened before it answers.
        return await write.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the newest batch that carried real writes (audit records, replay records, changes — not health probes)
    /// failed, with none succeeding since: decisions are being refused.
    /// </summary>
    public bool IsFailing => Volatile.Read(ref _failing);

    private bool _failing;

    /// <summary>
    /// A health probe: rewrites one row (<c>health_probe</c>) in the next batch and returns once it is durable — so the
    /// writer runs, takes the write lock and gets a write to disk; throws <see cref="GroupCommitException"/> otherwise.
    /// </summary>
    public async Task ProbeAsync(long probedAt)
    {
        var probe = new ProbeWrite(probedAt);
        await EnqueueAsync(probe, CancellationToken.None).ConfigureAwait(false);
        await probe.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// The one stage of type <typeparamref name="T"/> of this queue. Two stages of one kind in one batch would each read
    /// the same on-disk state (for example two audit logs the same chain head) and fork it; sharing one per queue prevents that.
    /// </summary>
    internal T SharedStage<T>(Func<T> create)
        where T : class, IGroupCommitStage
    {
        lock (_stagesLock)
        {
            if (_stages.FirstOrDefault(s => s.GetType() == typeof(T)) is T existing)
            {
                return existing;
            }

            var stage = create();
            Volatile.Write(ref _stages, [.. _stages, stage]);
            return stage;
        }
    }

    /// <summary>
    /// Queues <paramref name="write"/> for the next batch. Completes once it is queued (not once it is durable: the
    /// write object itself reports that); throws <see cref="GroupCommitException"/> when the writer is shut down.
    /// </summary>
    internal ValueTask EnqueueAsync(IGroupCommitWrite write, CancellationToken cancellationToken)
    {
        EnsureWriter();
        if (_queue.Writer.TryWrite(write))
        {
            _queued.Set();
            return ValueTask.CompletedTask;
        }

        return EnqueueSlowAsync(write, cancellationToken);
    }

    private async ValueTask EnqueueSlowAsync(IGroupCommitWrite write, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(write, cancellationToken).ConfigureAwait(false);
            _queued.Set();
        }
        catch (ChannelClosedException ex)
        {
            throw new GroupCommitException("The writer is shut down.", ex);
        }
    }

    private void EnsureWriter()
    {
        if (Volatile.Read(ref _writer) is not null)
        {
            return;
        }

        lock (_startLock)
        {
            if (_writer is null)
            {
                // A thread of its own, not the thread pool's: the loop blocks in fsync for about a millisecond per batch,
                // and a pool thread blocked that long makes the pool inject threads that then contend for the cores.
                var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var thread = new Thread(() =>
                {
                    try
                    {
                        Loop();
                        stopped.TrySetResult();
                    }
                    catch (Exception ex)
                    {
                        // The writer is gone: refuse new writes and fail the queued ones rather than leave their callers
                        // waiting; reported to DisposeAsync (a background thread that threw would end the process).
                        _queue.Writer.TryComplete(ex);
                        while (_queue.Reader.TryRead(out var queued))
                        {
                            queued.Fail(ex);
                        }

                        stopped.TrySetException(ex);
                    }
                })
                { IsBackground = true, Name = "Ema group commit" };
                thread.Start();
                Volatile.Write(ref _writer, stopped.Task);
            }
        }
    }

    private void Loop()
    {
        var batch = new List<IGroupCommitWrite>(MaxBatch);
        var stages = new List<IGroupCommitStage>(2);
        var lastBatchSize = 0;
        SqliteConnection? connection = null;
        try
        {
            while (true)
            {
                // Reset before looking, so a write queued after the look sets the signal and the wait returns at once.
                _queued.Reset();
                batch.Clear();
                Drain(batch);
                if (batch.Count == 0)
                {
                    if (_queue.Reader.Completion.IsCompleted)
                    {
                        return;
                    }

                    // Idle: a stage with work left for later (the audit's head mark) says when to wake for it.
                    if (IdleStages() is { } wake)
                    {
                        _queued.Wait(wake);
                    }
                    else
                    {
                        _queued.Wait();
                    }

                    continue;
                }

                if (lastBatchSize > 1 && batch.Count < MaxBatch)
                {
                    // Under load, let the requests already running enqueue their writes once — no spinning and no
                    // timer: the group forms while the previous commit's fsync runs (a spin-wait here cost a third of
                    // the exchange's CPU, docs/benchmarks.md).
                    Thread.Yield();
                    Drain(batch);
                }

                lastBatchSize = batch.Count;

                // Health probes prove the writer works; only the other writes are decisions (IsFailing, metrics).
                var decisions = batch.Count(w => w is not ProbeWrite);
                stages.Clear();
                foreach (var write in batch)
                {
                    if (write.Stage is { } stage && !stages.Contains(stage))
                    {
                        stages.Add(stage);
                    }
                }

                try
                {
                    // Microsoft.Data.Sqlite's async methods complete synchronously; this thread is here to block anyway.
                    connection ??= Open();
                    using (var transaction = connection.BeginTransaction(deferred: false))
                    {
                        foreach (var write in batch)
                        {
                            write.ApplyAsync(connection, transaction).GetAwaiter().GetResult();
                        }

                        foreach (var stage in stages)
                        {
                            stage.FlushAsync(connection, transaction).GetAwaiter().GetResult();
                        }

                        transaction.Commit();
                    }

                    foreach (var write in batch)
                    {
                        write.Succeed();
                    }

                    // After the callers are released (they wait for nothing more), and never failing the durable batch.
                    foreach (var stage in stages)
                    {
                        try
                        {
                            stage.Committed();
                        }
                        catch (Exception)
                        {
                            // What a stage keeps after a commit is its own business; the batch is stored.
                        }
                    }

                    if (decisions > 0)
                    {
                        Volatile.Write(ref _failing, false);
                        _metrics?.AuditCommit(decisions);
                    }
                }
                catch (Exception ex)
                {
                    // Whatever failed — the database or a write's own code — fails this batch only: its callers learn
                    // that nothing was stored, and the writer goes on with the next batch on a fresh connection. The
                    // callers first: nothing after this point (a logger, a dispose) may leave them waiting.
                    foreach (var stage in stages)
                    {
                        stage.Discard();
                    }

                    foreach (var write in batch)
                    {
                        write.Fail(ex);
                    }

                    if (decisions > 0)
                    {
                        Volatile.Write(ref _failing, true);
                        _metrics?.AuditCommitFailed();
                    }

                    try
                    {
                        _onFailure(ex, batch.Count);
                        connection?.Dispose();
                    }
                    catch (Exception)
                    {
                        // A failing logger or connection must not stop the writer: every later write would wait forever.
                    }

                    connection = null;
                }
            }
        }
        finally
        {
            connection?.Dispose();
        }
    }

    private TimeSpan? IdleStages()
    {
        TimeSpan? wake = null;
        foreach (var stage in Volatile.Read(ref _stages))
        {
            try
            {
                if (stage.Idle() is { } after && (wake is null || after < wake))
                {
                    wake = after;
                }
            }
            catch (Exception)
            {
                // Best effort, like Committed: the writer goes on.
            }
        }

        return wake;
    }

    private void Drain(List<IGroupCommitWrite> batch)
    {
        while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var write))
        {
            batch.Add(write);
        }
    }

    private SqliteConnection Open()
    {
        var connection = _db.OpenAsync(CancellationToken.None).GetAwaiter().GetResult();

        // FULL: each commit is fsynced before it returns, so a released write survives a crash or power loss.
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=FULL;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 4002, Level = Microsoft.Extensions.Logging.LogLevel.Error, Message = "A group commit of {Count} writes failed; the decisions depending on them are refused")]
    private static partial void LogWriteFailed(Microsoft.Extensions.Logging.ILogger logger, Exception exception, int count);

    /// <summary>Stops accepting items and waits until every queued item is written.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _queued.Set();
        if (Volatile.Read(ref _writer) is { } writer)
        {
            await writer.ConfigureAwait(false);
        }
    }

    // A health probe: one row rewritten, so that a successful commit means a real write reached the disk.
    private sealed class ProbeWrite(long probedAt) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), IGroupCommitWrite
    {
        public IGroupCommitStage? Stage => null;

        public Task ApplyAsync(SqliteConnection connection, SqliteTransaction transaction)
        {
            using var upsert = connection.CreateCommand();
            upsert.Transaction = transaction;
            upsert.CommandText = "INSERT INTO health_probe (id, probed_at) VALUES (1, $at) ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at";
            upsert.Parameters.AddWithValue("$at", probedAt);
            upsert.ExecuteNonQuery();
            return Task.CompletedTask;
        }

        public void Succeed() => TrySetResult();

        public void Fail(Exception error) => TrySetException(new GroupCommitException("The health probe could not be stored.", error));
    }

    // The general form: a delegate and its result. (The audit log has its own write type: one object per record.)
    private sealed class FuncWrite<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> apply)
        : TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously), IGroupCommitWrite
    {
        private T _result = default!;

        public IGroupCommitStage? Stage => null;

        public async Task ApplyAsync(SqliteConnection connection, SqliteTransaction transaction) =>
            _result = await apply(connection, transaction).ConfigureAwait(false);

        public void Succeed() => TrySetResult(_result);

        public void Fail(Exception error) => TrySetException(new GroupCommitException("The write could not be stored.", error));
    }
}

/// <summary>
/// One write of a group-commit batch, and the way its caller learns the outcome: applied by the single writer inside
/// the batch transaction, then told <see cref="Succeed"/> once the batch is durable or <see cref="Fail"/> when it is not.
/// Implementations complete their callers asynchronously, so no caller's continuation runs on the writer.
/// </summary>
internal interface IGroupCommitWrite
{
    /// <summary>Where this write stages work that is flushed once per batch, if anywhere.</summary>
    IGroupCommitStage? Stage { get; }

    Task ApplyAsync(SqliteConnection connection, SqliteTransaction transaction);

    void Succeed();

    void Fail(Exception error);
}

/// <summary>
/// Work that the items of one group-commit batch stage and that is written once for the whole batch, inside its
/// transaction and just before the commit (the audit log writes a batch's records as one block row this way).
/// </summary>
public interface IGroupCommitStage
{
    /// <summary>Writes what the batch staged. Runs on the writer, after every item of the batch.</summary>
    Task FlushAsync(SqliteConnection connection, SqliteTransaction transaction);

    /// <summary>The batch is durable (its callers are released): what it staged is on disk. Runs on the writer.</summary>
    void Committed();

    /// <summary>
    /// The queue is empty: do work left for a quiet moment, if it is due; returns when to be called again for work still
    /// pending, or null. Runs on the writer.
    /// </summary>
    TimeSpan? Idle();

    /// <summary>The batch failed and was rolled back: forget what it staged.</summary>
    void Discard();
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
