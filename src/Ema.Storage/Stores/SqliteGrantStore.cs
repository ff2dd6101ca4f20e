using Dapper;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Stores;

namespace Ema.Storage.Stores;

/// <summary>Sessions, pending authorization requests, codes and refresh tokens in SQLite (secrets stored as hashes only).</summary>
public sealed class SqliteGrantStore : IGrantStore
{
    private const string SessionColumns = "id AS Id, handle_hash AS HandleHash, user_id AS UserId, auth_time AS AuthTime, amr AS Amr, acr AS Acr, expires_at AS ExpiresAt, revoked AS Revoked";
    private const string CodeColumns = "code_hash AS CodeHash, client_id AS ClientId, redirect_uri AS RedirectUri, user_id AS UserId, session_id AS SessionId, scope AS Scope, nonce AS Nonce, code_challenge AS CodeChallenge, auth_time AS AuthTime, amr AS Amr, acr AS Acr, expires_at AS ExpiresAt, issued_at AS IssuedAt";
    private const string RefreshColumns = "token_hash AS TokenHash, family_id AS FamilyId, client_id AS ClientId, user_id AS UserId, session_id AS SessionId, scope AS Scope, auth_time AS AuthTime, amr AS Amr, acr AS Acr, expires_at AS ExpiresAt, consumed_at AS ConsumedAt";
    private readonly SqliteDatabase _db;
    private readonly TimeProvider _time;
    private readonly SqliteAuditLog _audit;

    public SqliteGrantStore(SqliteDatabase db, TimeProvider time, SqliteAuditLog audit)
    {
        _db = db;
        _time = time;
        _audit = audit;
    }

    private sealed record SessionRow(string Id, string HandleHash, string UserId, long AuthTime, string Amr, string? Acr, long ExpiresAt, long Revoked)
    {
        public IdpSession ToModel() => new() { Id = Id, HandleHash = HandleHash, UserId = UserId, AuthTime = Db.Time(AuthTime), Amr = Db.List(Amr), Acr = Acr, ExpiresAt = Db.Time(ExpiresAt), Revoked = Revoked != 0 };
    }

    private sealed record PendingRow(string Id, string ClientId, string RedirectUri, string Scope, string? State, string? Nonce, string CodeChallenge, long? MaxAge, long ExpiresAt, string? AcrValues)
    {
        public PendingAuthorization ToModel() => new() { Id = Id, ClientId = ClientId, RedirectUri = RedirectUri, Scope = Scope, State = State, Nonce = Nonce, CodeChallenge = CodeChallenge, MaxAge = (int?)MaxAge, ExpiresAt = Db.Time(ExpiresAt), AcrValues = AcrValues };
    }

    private sealed record CodeRow(string CodeHash, string ClientId, string RedirectUri, string UserId, string SessionId, string Scope, string? Nonce, string CodeChallenge, long AuthTime, string Amr, string? Acr, long ExpiresAt, long IssuedAt)
    {
        public AuthorizationCodeGrant ToModel() => new() { IssuedAt = Db.Time(IssuedAt), CodeHash = CodeHash, ClientId = ClientId, RedirectUri = RedirectUri, UserId = UserId, SessionId = SessionId, Scope = Scope, Nonce = Nonce, CodeChallenge = CodeChallenge, AuthTime = Db.Time(AuthTime), Amr = Db.List(Amr), Acr = Acr, ExpiresAt = Db.Time(ExpiresAt) };
    }

    private sealed record RefreshRow(string TokenHash, string FamilyId, string ClientId, string UserId, string SessionId, string Scope, long AuthTime, string Amr, string? Acr, long ExpiresAt, long? ConsumedAt)
    {
        public RefreshTokenGrant ToModel() => new() { TokenHash = TokenHash, FamilyId = FamilyId, ClientId = ClientId, UserId = UserId, SessionId = SessionId, Scope = Scope, AuthTime = Db.Time(AuthTime), Amr = Db.List(Amr), Acr = Acr, ExpiresAt = Db.Time(ExpiresAt), ConsumedAt = Db.Time(ConsumedAt) };
    }

    public Task SaveSessionAsync(IdpSession session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        return _db.RunAsync(
            c => c.ExecuteAsync(
                "INSERT INTO sessions (id, handle_hash, user_id, auth_time, amr, acr, expires_at, revoked) VALUES (@Id, @HandleHash, @UserId, @authTime, @amr, @Acr, @expiresAt, 0)",
                new { session.Id, session.HandleHash, session.UserId, authTime = Db.Ms(session.AuthTime), amr = Db.List(session.Amr), session.Acr, expiresAt = Db.Ms(session.ExpiresAt) }),
            cancellationToken);
    }

    public async Task<IdpSession?> FindSessionByHandleHashAsync(string handleHash, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<SessionRow>($"SELECT {SessionColumns} FROM sessions WHERE handle_hash = @handleHash", new { handleHash }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<IdpSession?> FindSessionAsync(string sessionId, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<SessionRow>($"SELECT {SessionColumns} FROM sessions WHERE id = @sessionId", new { sessionId }), cancellationToken).ConfigureAwait(false))?.ToModel();

    // The record, when given, is written when this revocation ended a live session (not one revoked already).
    public Task RevokeSessionAsync(string sessionId, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeAsync(
            async (c, t) =>
            {
                var now = Db.Ms(_time.GetUtcNow());
                var ended = await c.ExecuteAsync("UPDATE sessions SET revoked = 1 WHERE id = @sessionId AND revoked = 0", new { sessionId }, t).ConfigureAwait(false);
                await c.ExecuteAsync("UPDATE refresh_tokens SET consumed_at = COALESCE(consumed_at, @now) WHERE session_id = @sessionId", new { sessionId, now }, t).ConfigureAwait(false);
                return ended == 1;
            },
            ended => ended,
            auditRecord,
            cancellationToken);

    /// <summary>Ends every live session of a user and consumes their refresh tokens, in the caller's transaction.</summary>
    internal static async Task<int> EndUserSessionsAsync(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction, string userId, long nowMs)
    {
        await connection.ExecuteAsync("UPDATE refresh_tokens SET consumed_at = COALESCE(consumed_at, @now) WHERE session_id IN (SELECT id FROM sessions WHERE user_id = @userId)", new { userId, now = nowMs }, transaction).ConfigureAwait(false);
        return await connection.ExecuteAsync("UPDATE sessions SET revoked = 1 WHERE user_id = @userId AND revoked = 0", new { userId }, transaction).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<IdpSession>> ListSessionsAsync(string? userId, CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(
            c => c.QueryAsync<SessionRow>(
                "SELECT id AS Id, handle_hash AS HandleHash, user_id AS UserId, auth_time AS AuthTime, amr AS Amr, acr AS Acr, expires_at AS ExpiresAt, revoked AS Revoked FROM sessions WHERE revoked = 0 AND expires_at > @now AND (@userId IS NULL OR user_id = @userId) ORDER BY auth_time DESC",
                new { userId, now = Db.Ms(_time.GetUtcNow()) }),
            cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    public Task SavePendingAuthorizationAsync(PendingAuthorization request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _db.RunAsync(
            c => c.ExecuteAsync(
                "INSERT INTO pending_authorizations (id, client_id, redirect_uri, scope, state, nonce, code_challenge, max_age, expires_at, acr_values) VALUES (@Id, @ClientId, @RedirectUri, @Scope, @State, @Nonce, @CodeChallenge, @MaxAge, @expiresAt, @AcrValues)",
                new { request.Id, request.ClientId, request.RedirectUri, request.Scope, request.State, request.Nonce, request.CodeChallenge, request.MaxAge, expiresAt = Db.Ms(request.ExpiresAt), request.AcrValues }),
            cancellationToken);
    }

    public async Task<PendingAuthorization?> FindPendingAuthorizationAsync(string id, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<PendingRow>("SELECT id AS Id, client_id AS ClientId, redirect_uri AS RedirectUri, scope AS Scope, state AS State, nonce AS Nonce, code_challenge AS CodeChallenge, max_age AS MaxAge, expires_at AS ExpiresAt, acr_values AS AcrValues FROM pending_authorizations WHERE id = @id", new { id }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public Task DeletePendingAuthorizationAsync(string id, CancellationToken cancellationToken) =>
        _db.RunAsync(c => c.ExecuteAsync("DELETE FROM pending_authorizations WHERE id = @id OR expires_at < @now", new { id, now = Db.Ms(_time.GetUtcNow()) }), cancellationToken);

    public Task SaveAuthorizationCodeAsync(AuthorizationCodeGrant code, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(code);
        return _db.RunAsync(
            c => c.ExecuteAsync(
                "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, user_id, session_id, scope, nonce, code_challenge, auth_time, amr, acr, expires_at, issued_at) VALUES (@CodeHash, @ClientId, @RedirectUri, @UserId, @SessionId, @Scope, @Nonce, @CodeChallenge, @authTime, @amr, @Acr, @expiresAt, @issuedAt)",
                new { code.CodeHash, code.ClientId, code.RedirectUri, code.UserId, code.SessionId, code.Scope, code.Nonce, code.CodeChallenge, authTime = Db.Ms(code.AuthTime), amr = Db.List(code.Amr), code.Acr, expiresAt = Db.Ms(code.ExpiresAt), issuedAt = Db.Ms(code.IssuedAt) }),
            cancellationToken);
    }

    public async Task<AuthorizationCodeGrant?> RedeemAuthorizationCodeAsync(string codeHash, CancellationToken cancellationToken) =>
        (await _db.TransactAsync(
            async (c, t) =>
            {
                // Marking first, in the same immediate transaction, makes the redemption single-use under concurrency.
                var taken = await c.ExecuteAsync("UPDATE authorization_codes SET used_at = @now WHERE code_hash = @codeHash AND used_at IS NULL", new { codeHash, now = Db.Ms(_time.GetUtcNow()) }, t).ConfigureAwait(false);
                return taken == 1
                    ? await c.QuerySingleOrDefaultAsync<CodeRow>($"SELECT {CodeColumns} FROM authorization_codes WHERE code_hash = @codeHash", new { codeHash }, t).ConfigureAwait(false)
                    : null;
            },
            cancellationToken).ConfigureAwait(false))?.ToModel();

    public Task SaveRefreshTokenAsync(RefreshTokenGrant token, CancellationToken cancellationToken) =>
        _db.RunAsync(c => InsertRefreshAsync(c, null, token), cancellationToken);

    public async Task<RefreshTokenGrant?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<RefreshRow>($"SELECT {RefreshColumns} FROM refresh_tokens WHERE token_hash = @tokenHash", new { tokenHash }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public Task<bool> RotateRefreshTokenAsync(string tokenHash, RefreshTokenGrant successor, CancellationToken cancellationToken) =>
        _db.TransactAsync(
            async (c, t) =>
            {
                var consumed = await c.ExecuteAsync("UPDATE refresh_tokens SET consumed_at = @now WHERE token_hash = @tokenHash AND consumed_at IS NULL", new { tokenHash, now = Db.Ms(_time.GetUtcNow()) }, t).ConfigureAwait(false);
                if (consumed != 1)
                {
                    return false;
                }

                await InsertRefreshAsync(c, t, successor).ConfigureAwait(false);
                return true;
            },
            cancellationToken);

    public Task RevokeRefreshTokenFamilyAsync(string familyId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var cut = GrantStoreExtensions.CutOffAfter(now);
        return _db.TransactAsync(
            async (c, t) =>
            {
                // A family already ended (revoked before, or long expired) signs nobody out again: replaying its old
                // tokens must not move the cut-off past a later sign-in in the same session.
                var live = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM refresh_tokens WHERE family_id = @familyId AND consumed_at IS NULL AND expires_at > @now", new { familyId, now = Db.Ms(now) }, t).ConfigureAwait(false);
                await c.ExecuteAsync("UPDATE refresh_tokens SET consumed_at = COALESCE(consumed_at, @now), expires_at = @now WHERE family_id = @familyId", new { familyId, now = Db.Ms(now) }, t).ConfigureAwait(false);
                if (live == 0)
                {
                    return 0;
                }

                return await c.ExecuteAsync(
                    "INSERT INTO client_session_signouts (session_id, client_id, signed_out_at) SELECT DISTINCT session_id, client_id, @cut FROM refresh_tokens WHERE family_id = @familyId AND session_id IS NOT NULL ON CONFLICT (session_id, client_id) DO UPDATE SET signed_out_at = MAX(signed_out_at, excluded.signed_out_at)",
                    new { familyId, cut = Db.Ms(cut) },
                    t).ConfigureAwait(false);
            },
            cancellationToken);
    }

    public async Task<DateTimeOffset?> FindClientSignOutAsync(string sessionId, string clientId, CancellationToken cancellationToken) =>
        Db.Time(await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<long?>("SELECT signed_out_at FROM client_session_signouts WHERE session_id = @sessionId AND client_id = @clientId", new { sessionId, clientId }), cancellationToken).ConfigureAwait(false));

    public async Task<IReadOnlyList<ClientConnection>> ListConnectionsAsync(string userId, CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(
            c => c.QueryAsync<ConnectionRow>(
                "SELECT client_id AS ClientId, family_id AS FamilyId, scope AS Scope, auth_time AS AuthTime, expires_at AS ExpiresAt FROM refresh_tokens WHERE user_id = @userId AND consumed_at IS NULL AND expires_at > @now ORDER BY auth_time DESC",
                new { userId, now = Db.Ms(_time.GetUtcNow()) }),
            cancellationToken).ConfigureAwait(false)).Select(r => new ClientConnection(r.ClientId, r.FamilyId, r.Scope, Db.Time(r.AuthTime), Db.Time(r.ExpiresAt)))];

    public Task DisconnectClientAsync(string userId, string clientId, DateTimeOffset at, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeAsync(
            async (c, t) =>
            {
                // One transaction: the families are revoked and the cut-off recorded together, or neither.
                await c.ExecuteAsync("UPDATE refresh_tokens SET consumed_at = COALESCE(consumed_at, @at), expires_at = MIN(expires_at, @at) WHERE user_id = @userId AND client_id = @clientId", new { userId, clientId, at = Db.Ms(at) }, t).ConfigureAwait(false);
                return await c.ExecuteAsync(
                    "INSERT INTO client_disconnections (user_id, client_id, disconnected_at) VALUES (@userId, @clientId, @at) ON CONFLICT (user_id, client_id) DO UPDATE SET disconnected_at = excluded.disconnected_at",
                    new { userId, clientId, at = Db.Ms(at) },
                    t).ConfigureAwait(false);
            },
            _ => true,
            auditRecord,
            cancellationToken);

    public async Task<DateTimeOffset?> FindDisconnectionAsync(string userId, string clientId, CancellationToken cancellationToken) =>
        Db.Time(await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<long?>("SELECT disconnected_at FROM client_disconnections WHERE user_id = @userId AND client_id = @clientId", new { userId, clientId }), cancellationToken).ConfigureAwait(false));

    private sealed record ConnectionRow(string ClientId, string FamilyId, string Scope, long AuthTime, long ExpiresAt);

    private static Task<int> InsertRefreshAsync(Microsoft.Data.Sqlite.SqliteConnection c, Microsoft.Data.Sqlite.SqliteTransaction? t, RefreshTokenGrant token) =>
        c.ExecuteAsync(
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, session_id, scope, auth_time, amr, acr, expires_at, consumed_at) VALUES (@TokenHash, @FamilyId, @ClientId, @UserId, @SessionId, @Scope, @authTime, @amr, @Acr, @expiresAt, NULL)",
            new { token.TokenHash, token.FamilyId, token.ClientId, token.UserId, token.SessionId, token.Scope, authTime = Db.Ms(token.AuthTime), amr = Db.List(token.Amr), token.Acr, expiresAt = Db.Ms(token.ExpiresAt) },
            t);
}
