using System.Security.Cryptography;
using System.Text;
using Ema.Tokens.Replay;
using Microsoft.Data.Sqlite;

namespace Ema.Storage.Stores;

/// <summary>
/// The persistent replay cache (decision 2). Each (issuer, jti) key is inserted — or takes over an expired entry — by one
/// statement; a live entry is left alone and the caller learns it was a replay. Inserts are group-committed durably
/// before the caller continues, so the check survives restarts and is shared by every process on the database, without
/// costing one fsync per redemption. Expired rows are deleted now and then.
/// </summary>
public sealed class SqliteReplayCache : IReplayCache, IAsyncDisposable
{
    private const string InsertSql = "INSERT INTO replay_cache (key, expires_at) VALUES (@key, @expires) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay_cache.expires_at <= @now";
    private readonly TimeProvider _time;
    private readonly SqliteWriteQueue _writer;
    private SqliteCommand? _insert;
    private long _inserts;

    public SqliteReplayCache(SqliteWriteQueue writer, TimeProvider time)
    {
        _time = time;
        _writer = writer;
    }

    public async ValueTask<ReplayCheckResult> TryAddAsync(string issuer, string jwtId, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        ArgumentNullException.ThrowIfNull(jwtId);

        // A fixed-size key: SHA-256 of issuer, a NUL separator and the jti.
        var key = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(issuer + "\0" + jwtId)));
        try
        {
            var item = (key, Db.Ms(expiresAt), Db.Ms(_time.GetUtcNow()));
            return await _writer.WriteAsync((c, t) => ApplyAsync(c, t, item), cancellationToken).ConfigureAwait(false)
                ? ReplayCheckResult.Accepted
                : ReplayCheckResult.Replayed;
        }
        catch (GroupCommitException)
        {
            return ReplayCheckResult.Unavailable; // fail closed
        }
    }

    // Runs on the writer, inside the batch transaction: one statement per key, so its own "changed 1 row" is exact.
    private async Task<bool> ApplyAsync(SqliteConnection connection, SqliteTransaction transaction, (string Key, long Expires, long Now) item)
    {
        if (_insert is null || _insert.Connection != connection)
        {
            _insert = connection.CreateCommand();
            _insert.CommandText = InsertSql;
            _insert.Parameters.Add(new SqliteParameter { ParameterName = "@key" });
            _insert.Parameters.Add(new SqliteParameter { ParameterName = "@expires" });
            _insert.Parameters.Add(new SqliteParameter { ParameterName = "@now" });
        }

        _insert.Transaction = transaction;
        _insert.Parameters[0].Value = item.Key;
        _insert.Parameters[1].Value = item.Expires;
        _insert.Parameters[2].Value = item.Now;
        var changed = await _insert.ExecuteNonQueryAsync().ConfigureAwait(false);
        if (++_inserts % 4096 == 0)
        {
            using var sweep = connection.CreateCommand();
            sweep.Transaction = transaction;
            sweep.CommandText = "DELETE FROM replay_cache WHERE expires_at <= @now";
            sweep.Parameters.AddWithValue("@now", item.Now);
            await sweep.ExecuteNonQueryAsync().ConfigureAwait(false);
        }

        return changed == 1;
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
