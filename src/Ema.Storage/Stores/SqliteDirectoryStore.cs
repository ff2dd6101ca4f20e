using Dapper;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Stores;

namespace Ema.Storage.Stores;

/// <summary>Users, groups and roles in SQLite.</summary>
public sealed class SqliteDirectoryStore : IDirectoryStore
{
    private const string UserColumns = "id AS Id, username AS Username, display_name AS DisplayName, email AS Email, status AS Status, department AS Department";
    private readonly SqliteDatabase _db;
    private readonly TimeProvider _time;
    private readonly SqliteAuditLog _audit;
    private readonly AttemptCounter _passwordAttempts;
    private readonly AttemptCounter _codeAttempts;

    public SqliteDirectoryStore(SqliteDatabase db, TimeProvider time, SqliteAuditLog audit)
    {
        _db = db;
        _time = time;
        _audit = audit;
        _passwordAttempts = new AttemptCounter(db, "users", "id", hashColumn: "password_hash");

        // The authenticator's counter (SqliteMfaStore counts the codes): an unlock clears both factors at once.
        _codeAttempts = new AttemptCounter(db, "user_totp", "user_id");
    }

    private sealed record UserRow(string Id, string Username, string DisplayName, string? Email, string Status, string? Department)
    {
        public User ToModel() => new(Id, Username, DisplayName, Email, Enum.Parse<UserStatus>(Status), Department);
    }

    public async Task<User?> FindUserAsync(string userId, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<UserRow>($"SELECT {UserColumns} FROM users WHERE id = @userId", new { userId }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<User?> FindUserByUsernameAsync(string username, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<UserRow>($"SELECT {UserColumns} FROM users WHERE username_normalized = @n", new { n = Normalize(username) }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<IReadOnlyList<User>> ListUsersAsync(CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<UserRow>($"SELECT {UserColumns} FROM users ORDER BY username_normalized"), cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    // SQLite's BINARY collation orders UTF-8 bytes: Unicode code point order (Ema.Admin.Api.UserOrder). Two statements,
    // not "@after IS NULL OR username > @after": only a plain comparison lets the planner seek the index to the cursor
    // instead of walking it from the start on every page.
    public async Task<IReadOnlyList<User>> ListUsersPageAsync(string? afterUsername, int limit, CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(
            c => c.QueryAsync<UserRow>(
                afterUsername is null
                    ? $"SELECT {UserColumns} FROM users ORDER BY username LIMIT @limit"
                    : $"SELECT {UserColumns} FROM users WHERE username > @after ORDER BY username LIMIT @limit",
                new { after = afterUsername, limit }),
            cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    public async Task<int> CountUsersAsync(CancellationToken cancellationToken) =>
        (int)await _db.RunAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM users"), cancellationToken).ConfigureAwait(false);

    public Task<bool> CreateUserAsync(User user, string passwordHash, CancellationToken cancellationToken, AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(user);
        return _audit.ChangeOneAsync(
            "INSERT INTO users (id, username, username_normalized, display_name, email, status, department, password_hash, failed_attempts, created_at) VALUES (@Id, @Username, @n, @DisplayName, @Email, @status, @Department, @passwordHash, 0, @now)",
            new { user.Id, user.Username, n = Normalize(user.Username), user.DisplayName, user.Email, status = user.Status.ToString(), user.Department, passwordHash, now = Db.Ms(_time.GetUtcNow()) },
            auditRecord,
            cancellationToken);
    }

    public Task<bool> SetUserStatusAsync(string userId, UserStatus status, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE users SET status = @s WHERE id = @userId", new { s = status.ToString(), userId }, auditRecord, cancellationToken);

    public async Task<UserCredentials?> GetCredentialsAsync(string userId, CancellationToken cancellationToken)
    {
        var row = await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<CredentialRow>("SELECT password_hash AS Hash, failed_attempts AS Failed, locked_until AS Locked FROM users WHERE id = @userId", new { userId }), cancellationToken).ConfigureAwait(false);
        return row is null ? null : new UserCredentials(userId, row.Hash, (int)row.Failed, Db.Time(row.Locked));
    }

    private sealed record CredentialRow(string Hash, long Failed, long? Locked);

    public Task<SignInAttempt?> BeginSignInAttemptAsync(string userId, DateTimeOffset now, Func<int, DateTimeOffset?> lockoutAfter, CancellationToken cancellationToken) =>
        _passwordAttempts.BeginAsync(userId, now, lockoutAfter, cancellationToken);

    public Task ClearSignInFailuresAsync(string userId, int count, CancellationToken cancellationToken) =>
        _passwordAttempts.ClearAsync(userId, count, cancellationToken);

    public Task<bool> UnlockAsync(string userId, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeAsync(
            async (c, t) => await _passwordAttempts.ResetAsync(c, t, userId).ConfigureAwait(false) | await _codeAttempts.ResetAsync(c, t, userId).ConfigureAwait(false),
            cleared => cleared,
            auditRecord,
            cancellationToken);

    public Task<DateTimeOffset?> FindSignInLockAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken) =>
        _passwordAttempts.FindLockAsync(userId, now, cancellationToken);

    public async Task<IReadOnlyList<Group>> ListGroupsAsync(CancellationToken cancellationToken) =>
        [.. await _db.RunAsync(c => c.QueryAsync<Group>("SELECT id AS Id, name AS Name, description AS Description FROM groups ORDER BY name"), cancellationToken).ConfigureAwait(false)];

    public Task<bool> CreateGroupAsync(Group group, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("INSERT INTO groups (id, name, description) VALUES (@Id, @Name, @Description)", group, auditRecord, cancellationToken);

    public Task<bool> AddGroupMemberAsync(string groupId, string userId, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("INSERT INTO group_members (group_id, user_id) VALUES (@groupId, @userId) ON CONFLICT DO NOTHING", new { groupId, userId }, auditRecord, cancellationToken);

    public async Task<IReadOnlyList<string>> GetGroupIdsAsync(string userId, CancellationToken cancellationToken) =>
        [.. await _db.RunAsync(c => c.QueryAsync<string>("SELECT group_id FROM group_members WHERE user_id = @userId", new { userId }), cancellationToken).ConfigureAwait(false)];

    public Task<bool> AddRoleAsync(string userId, string role, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("INSERT INTO user_roles (user_id, role) VALUES (@userId, @role) ON CONFLICT DO NOTHING", new { userId, role }, auditRecord, cancellationToken);

    public async Task<IReadOnlyList<string>> GetRolesAsync(string userId, CancellationToken cancellationToken) =>
        [.. await _db.RunAsync(c => c.QueryAsync<string>("SELECT role FROM user_roles WHERE user_id = @userId", new { userId }), cancellationToken).ConfigureAwait(false)];

    public async Task<IReadOnlyList<string>> ListRolesAsync(CancellationToken cancellationToken) =>
        [.. await _db.RunAsync(c => c.QueryAsync<string>("SELECT DISTINCT role FROM user_roles ORDER BY role"), cancellationToken).ConfigureAwait(false)];

    public async Task<IReadOnlyList<(string GroupId, string UserId)>> ListMembershipsAsync(CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<(string, string)>("SELECT group_id, user_id FROM group_members ORDER BY group_id"), cancellationToken).ConfigureAwait(false))];

    public Task<bool> RemoveGroupMemberAsync(string groupId, string userId, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("DELETE FROM group_members WHERE group_id = @groupId AND user_id = @userId", new { groupId, userId }, auditRecord, cancellationToken);

    public Task<bool> RemoveRoleAsync(string userId, string role, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("DELETE FROM user_roles WHERE user_id = @userId AND role = @role", new { userId, role }, auditRecord, cancellationToken);


    private static string Normalize(string username) => User.NormalizeUsername(username);
}
