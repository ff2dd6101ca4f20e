using Ema.Server.Model;

namespace Ema.Server.Stores;

/// <summary>
/// Users, groups and roles. Here and in the other stores of the IdP, an administrator's change takes an optional audit
/// record: given, the change and the record are stored together or not at all (an
/// <see cref="Audit.AuditUnavailableException"/>), and a change that changed nothing (false) records nothing.
/// </summary>
public interface IDirectoryStore
{
    Task<User?> FindUserAsync(string userId, CancellationToken cancellationToken);

    Task<User?> FindUserByUsernameAsync(string username, CancellationToken cancellationToken);

    Task<IReadOnlyList<User>> ListUsersAsync(CancellationToken cancellationToken);

    /// <summary>At most <paramref name="limit"/> users by username (ordinal), those after <paramref name="afterUsername"/> when given: one page, read as a range.</summary>
    Task<IReadOnlyList<User>> ListUsersPageAsync(string? afterUsername, int limit, CancellationToken cancellationToken);

    /// <summary>How many users there are.</summary>
    Task<int> CountUsersAsync(CancellationToken cancellationToken);

    /// <summary>Creates a user with a password hash; false when the username is taken.</summary>
    Task<bool> CreateUserAsync(User user, string passwordHash, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<bool> SetUserStatusAsync(string userId, UserStatus status, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<UserCredentials?> GetCredentialsAsync(string userId, CancellationToken cancellationToken);

    /// <summary>
    /// Counts one sign-in attempt before its password is checked, atomically: refused while the user is locked out;
    /// otherwise the count of failures goes up by one and, when <paramref name="lockoutAfter"/> gives an end for the new
    /// count, the lock starts now. Counting first is what keeps parallel guesses from all passing the lock check before
    /// any of them is recorded: at most the threshold's number of passwords is ever checked per lock. A right password
    /// takes the count back with <see cref="ClearSignInFailuresAsync"/>. Null when the user has no credentials.
    /// </summary>
    Task<SignInAttempt?> BeginSignInAttemptAsync(string userId, DateTimeOffset now, Func<int, DateTimeOffset?> lockoutAfter, CancellationToken cancellationToken);

    /// <summary>
    /// An administrator's unlock: forgets the failures and ends the locks of both factors — the password's and the
    /// authenticator's one-time codes' — in one transaction; false when there was nothing to clear.
    /// </summary>
    Task<bool> UnlockAsync(string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>The end of the user's sign-in lock, if it is locked at <paramref name="now"/> (the console's view: no password hash read).</summary>
    Task<DateTimeOffset?> FindSignInLockAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// The password of the attempt that set the count to <paramref name="count"/> was right: when nothing was counted
    /// since, forgets the failures and ends any lock; otherwise (guesses ran alongside) takes back that one attempt only
    /// and keeps their lock.
    /// </summary>
    Task ClearSignInFailuresAsync(string userId, int count, CancellationToken cancellationToken);

    Task<IReadOnlyList<Group>> ListGroupsAsync(CancellationToken cancellationToken);

    Task<bool> CreateGroupAsync(Group group, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<bool> AddGroupMemberAsync(string groupId, string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<IReadOnlyList<string>> GetGroupIdsAsync(string userId, CancellationToken cancellationToken);

    Task<bool> AddRoleAsync(string userId, string role, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Every membership as (group id, user id), in one read (the console's groups page).</summary>
    Task<IReadOnlyList<(string GroupId, string UserId)>> ListMembershipsAsync(CancellationToken cancellationToken);

    /// <summary>Removes a group membership; false when there was none.</summary>
    Task<bool> RemoveGroupMemberAsync(string groupId, string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Removes a role; false when the user did not have it.</summary>
    Task<bool> RemoveRoleAsync(string userId, string role, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<IReadOnlyList<string>> GetRolesAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Every role at least one user holds, once each (roles are labels on users: there is no list of them).</summary>
    Task<IReadOnlyList<string>> ListRolesAsync(CancellationToken cancellationToken);
}

/// <summary>Client and resource applications, and the per (client, resource) client id at the resource's authorization server.</summary>
public interface IApplicationStore : IClientDirectory
{
    Task<IReadOnlyList<ClientApplication>> ListClientsAsync(CancellationToken cancellationToken);

    Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Replaces a confidential client's secret hash (rotation); false when there is no such client.</summary>
    Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Replaces a <c>private_key_jwt</c> client's public keys (false: no such client with that method).</summary>
    Task<bool> SetClientJwksAsync(string clientId, string jwks, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Sets whether the client's ID-JAGs must be bound to a DPoP key (false: no such client).</summary>
    Task<bool> SetClientRequireDpopAsync(string clientId, bool requireDpop, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Replaces a client's redirect URIs; false when there is no such client.</summary>
    Task<bool> SetClientRedirectUrisAsync(string clientId, IReadOnlyList<string> redirectUris, CancellationToken cancellationToken);

    Task<ResourceApplication?> FindResourceAsync(string resourceId, CancellationToken cancellationToken);

    Task<ResourceApplication?> FindResourceByIdentifierAsync(string resource, CancellationToken cancellationToken);

    Task<IReadOnlyList<ResourceApplication>> ListResourcesAsync(CancellationToken cancellationToken);

    Task<bool> CreateResourceAsync(ResourceApplication resource, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>The client's id at the resource's authorization server, or null when not mapped (the same id is used).</summary>
    Task<string?> FindClientIdAtResourceAsync(string clientId, string resourceId, CancellationToken cancellationToken);

    /// <summary>Sets (or replaces) the client's id at the resource's authorization server; false when the client or the resource is unknown.</summary>
    Task<bool> SetClientIdAtResourceAsync(string clientId, string resourceId, string clientIdAtResource, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);
}

/// <summary>Entitlements v1.</summary>
public interface IEntitlementStore
{
    Task<IReadOnlyList<Entitlement>> ListForClientAsync(string clientId, CancellationToken cancellationToken);

    Task<IReadOnlyList<Entitlement>> ListAsync(CancellationToken cancellationToken);

    Task<bool> CreateAsync(Entitlement entitlement, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);
}

/// <summary>Sessions, pending authorization requests, authorization codes and refresh tokens.</summary>
public interface IGrantStore
{
    Task SaveSessionAsync(IdpSession session, CancellationToken cancellationToken);

    Task<IdpSession?> FindSessionByHandleHashAsync(string handleHash, CancellationToken cancellationToken);

    Task<IdpSession?> FindSessionAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>Revokes a session and every refresh token issued in it.</summary>
    Task RevokeSessionAsync(string sessionId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Live sessions (not revoked, not expired), of one user or of everyone, newest first.</summary>
    Task<IReadOnlyList<IdpSession>> ListSessionsAsync(string? userId, CancellationToken cancellationToken);

    Task SavePendingAuthorizationAsync(PendingAuthorization request, CancellationToken cancellationToken);

    Task<PendingAuthorization?> FindPendingAuthorizationAsync(string id, CancellationToken cancellationToken);

    Task DeletePendingAuthorizationAsync(string id, CancellationToken cancellationToken);

    Task SaveAuthorizationCodeAsync(AuthorizationCodeGrant code, CancellationToken cancellationToken);

    /// <summary>Atomically takes an unused code: returns it and marks it used, or null when unknown or already used.</summary>
    Task<AuthorizationCodeGrant?> RedeemAuthorizationCodeAsync(string codeHash, CancellationToken cancellationToken);

    Task SaveRefreshTokenAsync(RefreshTokenGrant token, CancellationToken cancellationToken);

    Task<RefreshTokenGrant?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// Atomically marks <paramref name="tokenHash"/> consumed and stores <paramref name="successor"/>; false when the token
    /// was already consumed (a reuse: the caller revokes the family).
    /// </summary>
    Task<bool> RotateRefreshTokenAsync(string tokenHash, RefreshTokenGrant successor, CancellationToken cancellationToken);

    /// <summary>
    /// Revokes every refresh token of the family and, in the same transaction, ends the client's part of the family's IdP
    /// session: ID tokens issued to that client in that session before the start of the next second no longer yield
    /// ID-JAGs (<see cref="FindClientSignOutAsync"/>). A client that revokes its refresh token (RFC 7009; <c>ema logout</c>)
    /// or whose refresh token was reused signs out there, not only of its refresh tokens. A family that had ended
    /// already signs nobody out again.
    /// </summary>
    Task RevokeRefreshTokenFamilyAsync(string familyId, CancellationToken cancellationToken);

    /// <summary>The cut-off of the client's sign-out from the session (what was issued to it in the session before is void), or null.</summary>
    Task<DateTimeOffset?> FindClientSignOutAsync(string sessionId, string clientId, CancellationToken cancellationToken);

    /// <summary>The user's live refresh-token grants (one per family: the client's standing connection), newest first.</summary>
    Task<IReadOnlyList<ClientConnection>> ListConnectionsAsync(string userId, CancellationToken cancellationToken);

    /// <summary>
    /// Disconnects a client from a user: revokes every refresh-token family of the pair and records the time, so that ID
    /// tokens issued to the client before it can no longer be exchanged for ID-JAGs.
    /// </summary>
    Task DisconnectClientAsync(string userId, string clientId, DateTimeOffset at, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>The cut-off of the user's last disconnection of the client (what was issued before it is void), or null.</summary>
    Task<DateTimeOffset?> FindDisconnectionAsync(string userId, string clientId, CancellationToken cancellationToken);
}

/// <summary>
/// The cut-offs that void what a client held — the user's disconnection ("my connections"), the client's sign-out from
/// a session (a revoked refresh-token family) — in one place for every grant they void.
/// </summary>
public static class GrantStoreExtensions
{
    /// <summary>
    /// The cut-off of something ended at <paramref name="now"/>: the start of the next second. ID tokens carry their
    /// issue time in whole seconds (<c>iat</c>), so those of this second are void too — even one a thief got in the same
    /// second —, and a sign-in from the next second on is whole again (never a code that redeems and an ID token then
    /// refused for its lifetime).
    /// </summary>
    public static DateTimeOffset CutOffAfter(DateTimeOffset now) => DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + 1);

    /// <summary>
    /// Whether what was issued to <paramref name="clientId"/> for the user at <paramref name="issuedAt"/> — a code, a
    /// device approval, an ID token, a sign-in — is void because the user disconnected the client since (strictly
    /// before the cut-off).
    /// </summary>
    public static async Task<bool> IsVoidedByDisconnectionAsync(this IGrantStore grants, string userId, string clientId, DateTimeOffset issuedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grants);
        return Voids(await grants.FindDisconnectionAsync(userId, clientId, cancellationToken).ConfigureAwait(false), issuedAt);
    }

    /// <summary>Whether an ID token issued to <paramref name="clientId"/> in the session at <paramref name="issuedAt"/> is void because the client signed out of the session since.</summary>
    public static async Task<bool> IsVoidedByClientSignOutAsync(this IGrantStore grants, string sessionId, string clientId, DateTimeOffset issuedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grants);
        return Voids(await grants.FindClientSignOutAsync(sessionId, clientId, cancellationToken).ConfigureAwait(false), issuedAt);
    }

    private static bool Voids(DateTimeOffset? cutOff, DateTimeOffset issuedAt) => cutOff is { } cut && issuedAt < cut;
}

/// <summary>A client's standing connection for a user: a live refresh-token family.</summary>
public sealed record ClientConnection(string ClientId, string FamilyId, string Scope, DateTimeOffset AuthTime, DateTimeOffset ExpiresAt);

/// <summary>A stored signing key: private key encrypted at rest (decision 18).</summary>
public sealed record StoredSigningKey(string KeyId, string Purpose, string Algorithm, string Status, byte[] ProtectedPrivateKey, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt);

/// <summary>Signing keys of each purpose (for example <c>idp</c>).</summary>
public interface ISigningKeyStore
{
    Task<IReadOnlyList<StoredSigningKey>> LoadAsync(string purpose, CancellationToken cancellationToken);

    /// <summary>Replaces the keys of <paramref name="purpose"/> atomically.</summary>
    Task ReplaceAsync(string purpose, IReadOnlyList<StoredSigningKey> keys, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);
}
