using Dapper;
using Ema.Server.Security;

namespace Ema.Storage.Stores;

/// <summary>TOTP secrets (already encrypted) and replay protection by step (migration 0005).</summary>
public sealed class SqliteMfaStore(SqliteDatabase db, TimeProvider time, SqliteAuditLog audit) : IMfaStore
{
    private sealed record Row(byte[] ProtectedSecret, long LastStep);

    private readonly AttemptCounter _codeAttempts = new(db, "user_totp", "user_id");

    public Task<Ema.Server.Model.SignInAttempt?> BeginCodeAttemptAsync(string userId, DateTimeOffset now, Func<int, DateTimeOffset?> lockoutAfter, CancellationToken cancellationToken) =>
        _codeAttempts.BeginAsync(userId, now, lockoutAfter, cancellationToken);

    public Task ClearCodeFailuresAsync(string userId, int count, CancellationToken cancellationToken) =>
        _codeAttempts.ClearAsync(userId, count, cancellationToken);

    public Task<DateTimeOffset?> FindCodeLockAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken) =>
        _codeAttempts.FindLockAsync(userId, now, cancellationToken);

    public async Task<(byte[] ProtectedSecret, long LastStep)?> FindTotpAsync(string userId, CancellationToken cancellationToken) =>
        await db.RunAsync(c => c.QuerySingleOrDefaultAsync<Row>("SELECT protected_secret AS ProtectedSecret, last_step AS LastStep FROM user_totp WHERE user_id = @userId", new { userId }), cancellationToken).ConfigureAwait(false) is { } row
            ? (row.ProtectedSecret, row.LastStep)
            : null;

    public async Task SetTotpAsync(string userId, byte[] protectedSecret, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null)
    {
        if (!await audit.ChangeOneAsync(
            "INSERT INTO user_totp (user_id, protected_secret, enrolled_at, last_step) VALUES (@userId, @protectedSecret, @now, 0) ON CONFLICT (user_id) DO UPDATE SET protected_secret = excluded.protected_secret, enrolled_at = excluded.enrolled_at, last_step = 0, failed_attempts = 0, locked_until = NULL",
            new { userId, protectedSecret, now = Db.Ms(time.GetUtcNow()) },
            auditRecord,
            cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException("There is no such user to enrol.");
        }
    }

    public async Task<bool> TryAddTotpAsync(string userId, byte[] protectedSecret, CancellationToken cancellationToken) =>
        await db.RunAsync(
            c => c.ExecuteAsync(
                "INSERT INTO user_totp (user_id, protected_secret, enrolled_at, last_step) VALUES (@userId, @protectedSecret, @now, 0) ON CONFLICT (user_id) DO NOTHING",
                new { userId, protectedSecret, now = Db.Ms(time.GetUtcNow()) }),
            cancellationToken).ConfigureAwait(false) == 1;

    public Task<bool> RemoveAuthenticatorAsync(string userId, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null) =>
        audit.ChangeAsync(
            async (c, t) =>
            {
                if (await c.ExecuteAsync("DELETE FROM user_totp WHERE user_id = @userId", new { userId }, t).ConfigureAwait(false) != 1)
                {
                    return false;
                }

                await SqliteGrantStore.EndUserSessionsAsync(c, t, userId, Db.Ms(time.GetUtcNow())).ConfigureAwait(false);
                return true;
            },
            removed => removed,
            auditRecord,
            cancellationToken);

    public async Task<bool> TryUseStepAsync(string userId, long step, CancellationToken cancellationToken) =>
        await db.RunAsync(c => c.ExecuteAsync("UPDATE user_totp SET last_step = @step WHERE user_id = @userId AND last_step < @step", new { userId, step }), cancellationToken).ConfigureAwait(false) == 1;
}
