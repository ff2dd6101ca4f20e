using System.Security.Cryptography;
using System.Text;
using Dapper;
using Ema.Tokens.Replay;

namespace Ema.Storage.Stores;

/// <summary>
/// The persistent replay cache (decision 2): one atomic statement inserts the (issuer, jti) key, or takes over an entry
/// that has expired; a live entry is left alone and the caller learns it was a replay. Survives restarts and is shared
/// by every process using the database. Expired rows are deleted now and then.
/// </summary>
public sealed class SqliteReplayCache : IReplayCache
{
    private readonly SqliteDatabase _db;
    private readonly TimeProvider _time;
    private long _inserts;

    public SqliteReplayCache(SqliteDatabase db, TimeProvider time)
    {
        _db = db;
        _time = time;
    }

    public async ValueTask<ReplayCheckResult> TryAddAsync(string issuer, string jwtId, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        ArgumentNullException.ThrowIfNull(jwtId);

        // A fixed-size key: SHA-256 of issuer, a NUL separator and the jti.
        var key = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(issuer + "\0" + jwtId)));
        var now = Db.Ms(_time.GetUtcNow());
        try
        {
            var changed = await _db.RunAsync(
                c => c.ExecuteAsync(
                    "INSERT INTO replay_cache (key, expires_at) VALUES (@key, @expires) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay_cache.expires_at <= @now",
                    new { key, expires = Db.Ms(expiresAt), now }),
                cancellationToken).ConfigureAwait(false);
            if (Interlocked.Increment(ref _inserts) % 1024 == 0)
            {
                await _db.RunAsync(c => c.ExecuteAsync("DELETE FROM replay_cache WHERE expires_at <= @now", new { now }), cancellationToken).ConfigureAwait(false);
            }

            return changed == 1 ? ReplayCheckResult.Accepted : ReplayCheckResult.Replayed;
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            return ReplayCheckResult.Unavailable; // fail closed
        }
    }
}
