using Dapper;
using Ema.Server.Model;

namespace Ema.Storage.Stores;

/// <summary>
/// The lockout counter of a row — a user's passwords, an authenticator's codes: an attempt is counted, and the lock
/// started when the count reaches the threshold, in one IMMEDIATE transaction before the secret is checked; a right
/// answer clears the count only if nothing was counted since. The table and column names are the callers' constants.
/// </summary>
internal sealed class AttemptCounter(SqliteDatabase db, string table, string keyColumn, string? hashColumn = null)
{
    private sealed record Row(string? Hash, long Failed, long? Locked);

    public Task<SignInAttempt?> BeginAsync(string key, DateTimeOffset now, Func<int, DateTimeOffset?> lockoutAfter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lockoutAfter);
        // '' rather than NULL where there is no hash: a bare NULL column has no type Dapper could match to the record.
        var select = $"SELECT {hashColumn ?? "''"} AS Hash, failed_attempts AS Failed, locked_until AS Locked FROM {table} WHERE {keyColumn} = @key";
        var update = $"UPDATE {table} SET failed_attempts = @count, locked_until = COALESCE(@locked, locked_until) WHERE {keyColumn} = @key";
        return db.TransactAsync<SignInAttempt?>(
            async (c, t) =>
            {
                var row = await c.QuerySingleOrDefaultAsync<Row>(select, new { key }, t).ConfigureAwait(false);
                if (row is null)
                {
                    return null;
                }

                if (Db.Time(row.Locked) is { } locked && locked > now)
                {
                    return new SignInAttempt(Refused: true, (int)Math.Min(row.Failed, int.MaxValue), locked);
                }

                var count = (int)Math.Min(row.Failed + 1, int.MaxValue);
                var lockUntil = lockoutAfter(count);
                await c.ExecuteAsync(update, new { key, count, locked = Db.Ms(lockUntil) }, t).ConfigureAwait(false);
                return new SignInAttempt(Refused: false, count, lockUntil, string.IsNullOrEmpty(row.Hash) ? null : row.Hash);
            },
            cancellationToken);
    }

    /// <summary>
    /// Clears the count and the lock whatever they are (an administrator's unlock), in the caller's transaction; false
    /// when both were clear.
    /// </summary>
    public async Task<bool> ResetAsync(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction, string key) =>
        await connection.ExecuteAsync($"UPDATE {table} SET failed_attempts = 0, locked_until = NULL WHERE {keyColumn} = @key AND (failed_attempts > 0 OR locked_until IS NOT NULL)", new { key }, transaction).ConfigureAwait(false) == 1;

    /// <summary>The end of the lock, if it is locked at <paramref name="now"/>.</summary>
    public async Task<DateTimeOffset?> FindLockAsync(string key, DateTimeOffset now, CancellationToken cancellationToken) =>
        Db.Time(await db.RunAsync(c => c.ExecuteScalarAsync<long?>($"SELECT locked_until FROM {table} WHERE {keyColumn} = @key AND locked_until > @now", new { key, now = Db.Ms(now) }), cancellationToken).ConfigureAwait(false));

    // One statement: SQLite evaluates every SET expression on the row as it was, so the test and both writes are atomic.
    public Task ClearAsync(string key, int count, CancellationToken cancellationToken) =>
        db.RunAsync(
            c => c.ExecuteAsync(
                $"UPDATE {table} SET failed_attempts = CASE WHEN failed_attempts = @count THEN 0 ELSE MAX(failed_attempts - 1, 0) END, locked_until = CASE WHEN failed_attempts = @count THEN NULL ELSE locked_until END WHERE {keyColumn} = @key",
                new { key, count }),
            cancellationToken);
}
