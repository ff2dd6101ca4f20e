using Ema.Server.Model;

namespace Ema.Server.Stores.Caching;

/// <summary>A write through a cache: its entries are invalidated once the write has completed — stored, or committed with
/// its audit record —, never before (a read in between would cache the old value again for a whole TTL).</summary>
internal static class CacheWrite
{
    public static async Task<T> Then<T>(Task<T> write, Action invalidate)
    {
        var result = await write.ConfigureAwait(false);
        invalidate();
        return result;
    }

    public static async Task Then(Task write, Action invalidate)
    {
        await write.ConfigureAwait(false);
        invalidate();
    }
}

/// <summary>Options of the store caches (configuration section <c>Ema:Storage</c>).</summary>
public sealed class StoreCacheOptions
{
    /// <summary>
    /// How long read-mostly data (clients, resources, entitlements, users and their groups and roles, sessions) is reused.
    /// Writes through this process invalidate at once; writes from elsewhere (another instance, <c>ema admin</c>) are seen
    /// within this time. Zero disables caching.
    /// </summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Caches client and resource lookups of <see cref="IApplicationStore"/>.</summary>
public sealed class CachingApplicationStore(IApplicationStore inner, TimeProvider time, StoreCacheOptions options) : IApplicationStore
{
    private readonly TtlCache<string, ClientApplication?> _clients = new(time, options.Ttl, StringComparer.Ordinal);
    private readonly TtlCache<string, ResourceApplication?> _resources = new(time, options.Ttl, StringComparer.Ordinal);
    private readonly TtlCache<string, ResourceApplication?> _resourcesByIdentifier = new(time, options.Ttl, StringComparer.Ordinal);
    private readonly TtlCache<(string, string), string?> _clientIds = new(time, options.Ttl);

    public Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken) =>
        _clients.GetAsync(clientId, id => inner.FindClientAsync(id, cancellationToken));

    public Task<IReadOnlyList<ClientApplication>> ListClientsAsync(CancellationToken cancellationToken) => inner.ListClientsAsync(cancellationToken);

    public Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        return CacheWrite.Then(inner.CreateClientAsync(client, cancellationToken, auditRecord), () => _clients.Invalidate(client.ClientId));
    }

    public Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetClientEnabledAsync(clientId, enabled, cancellationToken, auditRecord), () => _clients.Invalidate(clientId));

    public Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetClientSecretHashAsync(clientId, secretHash, cancellationToken, auditRecord), () => _clients.Invalidate(clientId));

    public Task<bool> SetClientJwksAsync(string clientId, string jwks, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetClientJwksAsync(clientId, jwks, cancellationToken, auditRecord), () => _clients.Invalidate(clientId));

    public Task<bool> SetClientRequireDpopAsync(string clientId, bool requireDpop, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetClientRequireDpopAsync(clientId, requireDpop, cancellationToken, auditRecord), () => _clients.Invalidate(clientId));

    public Task<bool> SetClientRedirectUrisAsync(string clientId, IReadOnlyList<string> redirectUris, CancellationToken cancellationToken) =>
        CacheWrite.Then(inner.SetClientRedirectUrisAsync(clientId, redirectUris, cancellationToken), () => _clients.Invalidate(clientId));

    public Task<ResourceApplication?> FindResourceAsync(string resourceId, CancellationToken cancellationToken) =>
        _resources.GetAsync(resourceId, id => inner.FindResourceAsync(id, cancellationToken));

    public Task<ResourceApplication?> FindResourceByIdentifierAsync(string resource, CancellationToken cancellationToken) =>
        _resourcesByIdentifier.GetAsync(resource, r => inner.FindResourceByIdentifierAsync(r, cancellationToken));

    public Task<IReadOnlyList<ResourceApplication>> ListResourcesAsync(CancellationToken cancellationToken) => inner.ListResourcesAsync(cancellationToken);

    public Task<bool> CreateResourceAsync(ResourceApplication resource, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.CreateResourceAsync(resource, cancellationToken, auditRecord), () => { _resources.InvalidateAll(); _resourcesByIdentifier.InvalidateAll(); });

    public Task<string?> FindClientIdAtResourceAsync(string clientId, string resourceId, CancellationToken cancellationToken) =>
        _clientIds.GetAsync((clientId, resourceId), k => inner.FindClientIdAtResourceAsync(k.Item1, k.Item2, cancellationToken));

    public Task<bool> SetClientIdAtResourceAsync(string clientId, string resourceId, string clientIdAtResource, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetClientIdAtResourceAsync(clientId, resourceId, clientIdAtResource, cancellationToken, auditRecord), () => _clientIds.Invalidate((clientId, resourceId)));
}

/// <summary>Caches the per-client entitlement list.</summary>
public sealed class CachingEntitlementStore(IEntitlementStore inner, TimeProvider time, StoreCacheOptions options) : IEntitlementStore
{
    private readonly TtlCache<string, IReadOnlyList<Entitlement>> _byClient = new(time, options.Ttl, StringComparer.Ordinal);

    public Task<IReadOnlyList<Entitlement>> ListForClientAsync(string clientId, CancellationToken cancellationToken) =>
        _byClient.GetAsync(clientId, id => inner.ListForClientAsync(id, cancellationToken));

    public Task<IReadOnlyList<Entitlement>> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

    public Task<bool> CreateAsync(Entitlement entitlement, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.CreateAsync(entitlement, cancellationToken, auditRecord), () => _byClient.InvalidateAll());
}

/// <summary>Caches users, their groups and roles; credentials and sign-in state are never cached.</summary>
public sealed class CachingDirectoryStore(IDirectoryStore inner, TimeProvider time, StoreCacheOptions options) : IDirectoryStore
{
    private readonly TtlCache<string, User?> _users = new(time, options.Ttl, StringComparer.Ordinal);
    private readonly TtlCache<string, IReadOnlyList<string>> _groups = new(time, options.Ttl, StringComparer.Ordinal);
    private readonly TtlCache<string, IReadOnlyList<string>> _roles = new(time, options.Ttl, StringComparer.Ordinal);

    public Task<User?> FindUserAsync(string userId, CancellationToken cancellationToken) => _users.GetAsync(userId, id => inner.FindUserAsync(id, cancellationToken));

    public Task<User?> FindUserByUsernameAsync(string username, CancellationToken cancellationToken) => inner.FindUserByUsernameAsync(username, cancellationToken);

    public Task<IReadOnlyList<User>> ListUsersAsync(CancellationToken cancellationToken) => inner.ListUsersAsync(cancellationToken);

    public Task<IReadOnlyList<User>> ListUsersPageAsync(string? afterUsername, int limit, CancellationToken cancellationToken) => inner.ListUsersPageAsync(afterUsername, limit, cancellationToken);

    public Task<int> CountUsersAsync(CancellationToken cancellationToken) => inner.CountUsersAsync(cancellationToken);

    public Task<bool> CreateUserAsync(User user, string passwordHash, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(user);
        return CacheWrite.Then(inner.CreateUserAsync(user, passwordHash, cancellationToken, auditRecord), () => _users.Invalidate(user.Id));
    }

    public Task<bool> SetUserStatusAsync(string userId, UserStatus status, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetUserStatusAsync(userId, status, cancellationToken, auditRecord), () => _users.Invalidate(userId));

    public Task<UserCredentials?> GetCredentialsAsync(string userId, CancellationToken cancellationToken) => inner.GetCredentialsAsync(userId, cancellationToken);

    public Task<SignInAttempt?> BeginSignInAttemptAsync(string userId, DateTimeOffset now, Func<int, DateTimeOffset?> lockoutAfter, CancellationToken cancellationToken) => inner.BeginSignInAttemptAsync(userId, now, lockoutAfter, cancellationToken);

    public Task ClearSignInFailuresAsync(string userId, int count, CancellationToken cancellationToken) => inner.ClearSignInFailuresAsync(userId, count, cancellationToken);

    public Task<bool> UnlockAsync(string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) => inner.UnlockAsync(userId, cancellationToken, auditRecord);

    public Task<DateTimeOffset?> FindSignInLockAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken) => inner.FindSignInLockAsync(userId, now, cancellationToken);

    public Task<IReadOnlyList<Group>> ListGroupsAsync(CancellationToken cancellationToken) => inner.ListGroupsAsync(cancellationToken);

    public Task<bool> CreateGroupAsync(Group group, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) => inner.CreateGroupAsync(group, cancellationToken, auditRecord);

    public Task<bool> AddGroupMemberAsync(string groupId, string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.AddGroupMemberAsync(groupId, userId, cancellationToken, auditRecord), () => _groups.Invalidate(userId));

    public Task<IReadOnlyList<string>> GetGroupIdsAsync(string userId, CancellationToken cancellationToken) => _groups.GetAsync(userId, id => inner.GetGroupIdsAsync(id, cancellationToken));

    public Task<bool> AddRoleAsync(string userId, string role, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.AddRoleAsync(userId, role, cancellationToken, auditRecord), () => _roles.Invalidate(userId));

    public Task<IReadOnlyList<string>> GetRolesAsync(string userId, CancellationToken cancellationToken) => _roles.GetAsync(userId, id => inner.GetRolesAsync(id, cancellationToken));

    public Task<IReadOnlyList<(string GroupId, string UserId)>> ListMembershipsAsync(CancellationToken cancellationToken) => inner.ListMembershipsAsync(cancellationToken);

    public Task<IReadOnlyList<string>> ListRolesAsync(CancellationToken cancellationToken) => inner.ListRolesAsync(cancellationToken);

    public Task<bool> RemoveGroupMemberAsync(string groupId, string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.RemoveGroupMemberAsync(groupId, userId, cancellationToken, auditRecord), () => _groups.Invalidate(userId));

    public Task<bool> RemoveRoleAsync(string userId, string role, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.RemoveRoleAsync(userId, role, cancellationToken, auditRecord), () => _roles.Invalidate(userId));
}

/// <summary>Caches session lookups by id (revocation through this process invalidates at once); everything else passes through.</summary>
public sealed class CachingGrantStore(IGrantStore inner, TimeProvider time, StoreCacheOptions options) : IGrantStore
{
    private readonly TtlCache<string, IdpSession?> _sessions = new(time, options.Ttl, StringComparer.Ordinal);
    private readonly TtlCache<(string, string), DateTimeOffset?> _disconnections = new(time, options.Ttl);
    private readonly TtlCache<(string, string), DateTimeOffset?> _signOuts = new(time, options.Ttl);

    public Task SaveSessionAsync(IdpSession session, CancellationToken cancellationToken) => inner.SaveSessionAsync(session, cancellationToken);

    public Task<IdpSession?> FindSessionByHandleHashAsync(string handleHash, CancellationToken cancellationToken) => inner.FindSessionByHandleHashAsync(handleHash, cancellationToken);

    public Task<IdpSession?> FindSessionAsync(string sessionId, CancellationToken cancellationToken) => _sessions.GetAsync(sessionId, id => inner.FindSessionAsync(id, cancellationToken));

    public Task<IReadOnlyList<IdpSession>> ListSessionsAsync(string? userId, CancellationToken cancellationToken) => inner.ListSessionsAsync(userId, cancellationToken);

    public Task RevokeSessionAsync(string sessionId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.RevokeSessionAsync(sessionId, cancellationToken, auditRecord), () => _sessions.Invalidate(sessionId));

    public Task SavePendingAuthorizationAsync(PendingAuthorization request, CancellationToken cancellationToken) => inner.SavePendingAuthorizationAsync(request, cancellationToken);

    public Task<PendingAuthorization?> FindPendingAuthorizationAsync(string id, CancellationToken cancellationToken) => inner.FindPendingAuthorizationAsync(id, cancellationToken);

    public Task DeletePendingAuthorizationAsync(string id, CancellationToken cancellationToken) => inner.DeletePendingAuthorizationAsync(id, cancellationToken);

    public Task SaveAuthorizationCodeAsync(AuthorizationCodeGrant code, CancellationToken cancellationToken) => inner.SaveAuthorizationCodeAsync(code, cancellationToken);

    public Task<AuthorizationCodeGrant?> RedeemAuthorizationCodeAsync(string codeHash, CancellationToken cancellationToken) => inner.RedeemAuthorizationCodeAsync(codeHash, cancellationToken);

    public Task SaveRefreshTokenAsync(RefreshTokenGrant token, CancellationToken cancellationToken) => inner.SaveRefreshTokenAsync(token, cancellationToken);

    public Task<RefreshTokenGrant?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken) => inner.FindRefreshTokenAsync(tokenHash, cancellationToken);

    public Task<bool> RotateRefreshTokenAsync(string tokenHash, RefreshTokenGrant successor, CancellationToken cancellationToken) => inner.RotateRefreshTokenAsync(tokenHash, successor, cancellationToken);

    // Like session revocation: at once in this process, within the TTL in other instances. The family's session and client
    // are not known here, and revocations are rare: every cached answer goes.
    public Task RevokeRefreshTokenFamilyAsync(string familyId, CancellationToken cancellationToken) =>
        CacheWrite.Then(inner.RevokeRefreshTokenFamilyAsync(familyId, cancellationToken), () => _signOuts.InvalidateAll());

    public Task<DateTimeOffset?> FindClientSignOutAsync(string sessionId, string clientId, CancellationToken cancellationToken) =>
        _signOuts.GetAsync((sessionId, clientId), key => inner.FindClientSignOutAsync(key.Item1, key.Item2, cancellationToken));

    public Task<IReadOnlyList<ClientConnection>> ListConnectionsAsync(string userId, CancellationToken cancellationToken) => inner.ListConnectionsAsync(userId, cancellationToken);

    // Like session revocation: at once in this process (the console runs in it), within the TTL in other instances.
    public Task DisconnectClientAsync(string userId, string clientId, DateTimeOffset at, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.DisconnectClientAsync(userId, clientId, at, cancellationToken, auditRecord), () => _disconnections.Invalidate((userId, clientId)));

    public Task<DateTimeOffset?> FindDisconnectionAsync(string userId, string clientId, CancellationToken cancellationToken) =>
        _disconnections.GetAsync((userId, clientId), key => inner.FindDisconnectionAsync(key.Item1, key.Item2, cancellationToken));
}

/// <summary>Caches the authorization server's resources, clients and accounts (writes through this process invalidate).</summary>
public sealed class CachingAuthorizationServerStore(IAuthorizationServerStore inner, TimeProvider time, StoreCacheOptions options) : IAuthorizationServerStore
{
    private readonly TtlCache<string, IReadOnlyList<ProtectedResource>> _resources = new(time, options.Ttl, StringComparer.Ordinal);
    private readonly TtlCache<string, ClientApplication?> _clients = new(time, options.Ttl, StringComparer.Ordinal);
    private readonly TtlCache<(string, string, string), Account?> _accounts = new(time, options.Ttl);

    public Task<bool> CreateTenantAsync(Tenant tenant, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) => inner.CreateTenantAsync(tenant, cancellationToken, auditRecord);

    public Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken cancellationToken) => inner.ListTenantsAsync(cancellationToken);

    public Task<TrustedIssuerRegistration?> FindTrustedIssuerAsync(string issuer, CancellationToken cancellationToken) => inner.FindTrustedIssuerAsync(issuer, cancellationToken);

    public Task<IReadOnlyList<TrustedIssuerRegistration>> ListTrustedIssuersAsync(CancellationToken cancellationToken) => inner.ListTrustedIssuersAsync(cancellationToken);

    public Task<bool> CreateTrustedIssuerAsync(TrustedIssuerRegistration issuer, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) => inner.CreateTrustedIssuerAsync(issuer, cancellationToken, auditRecord);

    public Task<bool> SetTrustedIssuerEnabledAsync(string issuer, bool enabled, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) => inner.SetTrustedIssuerEnabledAsync(issuer, enabled, cancellationToken, auditRecord);

    public Task<bool> SetTrustedIssuerTenantAsync(string issuer, string? issuerTenant, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) => inner.SetTrustedIssuerTenantAsync(issuer, issuerTenant, cancellationToken, auditRecord);

    public Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken) => _clients.GetAsync(clientId, id => inner.FindClientAsync(id, cancellationToken));

    public Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetClientEnabledAsync(clientId, enabled, cancellationToken, auditRecord), () => _clients.Invalidate(clientId));

    public Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetClientSecretHashAsync(clientId, secretHash, cancellationToken, auditRecord), () => _clients.Invalidate(clientId));

    public Task<bool> SetClientJwksAsync(string clientId, string jwks, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetClientJwksAsync(clientId, jwks, cancellationToken, auditRecord), () => _clients.Invalidate(clientId));

    public Task<bool> SetClientRequireDpopAsync(string clientId, bool requireDpop, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.SetClientRequireDpopAsync(clientId, requireDpop, cancellationToken, auditRecord), () => _clients.Invalidate(clientId));

    public Task<IReadOnlyList<ClientApplication>> ListClientsAsync(CancellationToken cancellationToken) => inner.ListClientsAsync(cancellationToken);

    public Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        return CacheWrite.Then(inner.CreateClientAsync(client, cancellationToken, auditRecord), () => _clients.Invalidate(client.ClientId));
    }

    public Task<IReadOnlyList<ProtectedResource>> ListResourcesAsync(CancellationToken cancellationToken) => _resources.GetAsync(string.Empty, _ => inner.ListResourcesAsync(cancellationToken));

    public Task<bool> CreateResourceAsync(ProtectedResource resource, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.CreateResourceAsync(resource, cancellationToken, auditRecord), () => _resources.InvalidateAll());

    public Task<bool> DeleteResourceAsync(string id, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        CacheWrite.Then(inner.DeleteResourceAsync(id, cancellationToken, auditRecord), () => _resources.InvalidateAll());

    public Task<Account?> FindAccountAsync(string tenantId, string issuer, string subject, CancellationToken cancellationToken) =>
        _accounts.GetAsync((tenantId, issuer, subject), k => inner.FindAccountAsync(k.Item1, k.Item2, k.Item3, cancellationToken));

    public async Task<Account> GetOrCreateAccountAsync(Account candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var account = await inner.GetOrCreateAccountAsync(candidate, cancellationToken).ConfigureAwait(false);
        _accounts.Invalidate((candidate.TenantId, candidate.Issuer, candidate.Subject));
        return account;
    }
}
