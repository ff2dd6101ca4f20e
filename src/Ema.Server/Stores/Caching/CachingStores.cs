using Ema.Server.Model;

namespace Ema.Server.Stores.Caching;

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

    public async Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var created = await inner.CreateClientAsync(client, cancellationToken, auditRecord).ConfigureAwait(false);
        _clients.Invalidate(client.ClientId);
        return created;
    }

    public async Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var changed = await inner.SetClientEnabledAsync(clientId, enabled, cancellationToken, auditRecord).ConfigureAwait(false);
        _clients.Invalidate(clientId);
        return changed;
    }

    public async Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var changed = await inner.SetClientSecretHashAsync(clientId, secretHash, cancellationToken, auditRecord).ConfigureAwait(false);
        _clients.Invalidate(clientId);
        return changed;
    }

    public async Task<bool> SetClientRedirectUrisAsync(string clientId, IReadOnlyList<string> redirectUris, CancellationToken cancellationToken)
    {
        var changed = await inner.SetClientRedirectUrisAsync(clientId, redirectUris, cancellationToken).ConfigureAwait(false);
        _clients.Invalidate(clientId);
        return changed;
    }

    public Task<ResourceApplication?> FindResourceAsync(string resourceId, CancellationToken cancellationToken) =>
        _resources.GetAsync(resourceId, id => inner.FindResourceAsync(id, cancellationToken));

    public Task<ResourceApplication?> FindResourceByIdentifierAsync(string resource, CancellationToken cancellationToken) =>
        _resourcesByIdentifier.GetAsync(resource, r => inner.FindResourceByIdentifierAsync(r, cancellationToken));

    public Task<IReadOnlyList<ResourceApplication>> ListResourcesAsync(CancellationToken cancellationToken) => inner.ListResourcesAsync(cancellationToken);

    public async Task<bool> CreateResourceAsync(ResourceApplication resource, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var created = await inner.CreateResourceAsync(resource, cancellationToken, auditRecord).ConfigureAwait(false);
        _resources.InvalidateAll();
        _resourcesByIdentifier.InvalidateAll();
        return created;
    }

    public Task<string?> FindClientIdAtResourceAsync(string clientId, string resourceId, CancellationToken cancellationToken) =>
        _clientIds.GetAsync((clientId, resourceId), k => inner.FindClientIdAtResourceAsync(k.Item1, k.Item2, cancellationToken));

    public async Task<bool> SetClientIdAtResourceAsync(string clientId, string resourceId, string clientIdAtResource, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var set = await inner.SetClientIdAtResourceAsync(clientId, resourceId, clientIdAtResource, cancellationToken, auditRecord).ConfigureAwait(false);
        _clientIds.Invalidate((clientId, resourceId));
        return set;
    }
}

/// <summary>Caches the per-client entitlement list.</summary>
public sealed class CachingEntitlementStore(IEntitlementStore inner, TimeProvider time, StoreCacheOptions options) : IEntitlementStore
{
    private readonly TtlCache<string, IReadOnlyList<Entitlement>> _byClient = new(time, options.Ttl, StringComparer.Ordinal);

    public Task<IReadOnlyList<Entitlement>> ListForClientAsync(string clientId, CancellationToken cancellationToken) =>
        _byClient.GetAsync(clientId, id => inner.ListForClientAsync(id, cancellationToken));

    public Task<IReadOnlyList<Entitlement>> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

    public async Task<bool> CreateAsync(Entitlement entitlement, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var created = await inner.CreateAsync(entitlement, cancellationToken, auditRecord).ConfigureAwait(false);
        _byClient.InvalidateAll();
        return created;
    }
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

    public async Task<bool> CreateUserAsync(User user, string passwordHash, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(user);
        var created = await inner.CreateUserAsync(user, passwordHash, cancellationToken, auditRecord).ConfigureAwait(false);
        _users.Invalidate(user.Id);
        return created;
    }

    public async Task<bool> SetUserStatusAsync(string userId, UserStatus status, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var changed = await inner.SetUserStatusAsync(userId, status, cancellationToken, auditRecord).ConfigureAwait(false);
        _users.Invalidate(userId);
        return changed;
    }

    public Task<UserCredentials?> GetCredentialsAsync(string userId, CancellationToken cancellationToken) => inner.GetCredentialsAsync(userId, cancellationToken);

    public Task<SignInAttempt?> BeginSignInAttemptAsync(string userId, DateTimeOffset now, Func<int, DateTimeOffset?> lockoutAfter, CancellationToken cancellationToken) => inner.BeginSignInAttemptAsync(userId, now, lockoutAfter, cancellationToken);

    public Task ClearSignInFailuresAsync(string userId, int count, CancellationToken cancellationToken) => inner.ClearSignInFailuresAsync(userId, count, cancellationToken);

    public Task<bool> UnlockAsync(string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) => inner.UnlockAsync(userId, cancellationToken, auditRecord);

    public Task<DateTimeOffset?> FindSignInLockAsync(string userId, DateTimeOffset now, CancellationToken cancellationToken) => inner.FindSignInLockAsync(userId, now, cancellationToken);

    public Task<IReadOnlyList<Group>> ListGroupsAsync(CancellationToken cancellationToken) => inner.ListGroupsAsync(cancellationToken);

    public Task<bool> CreateGroupAsync(Group group, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) => inner.CreateGroupAsync(group, cancellationToken, auditRecord);

    public async Task<bool> AddGroupMemberAsync(string groupId, string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var added = await inner.AddGroupMemberAsync(groupId, userId, cancellationToken, auditRecord).ConfigureAwait(false);
        _groups.Invalidate(userId);
        return added;
    }

    public Task<IReadOnlyList<string>> GetGroupIdsAsync(string userId, CancellationToken cancellationToken) => _groups.GetAsync(userId, id => inner.GetGroupIdsAsync(id, cancellationToken));

    public async Task<bool> AddRoleAsync(string userId, string role, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var added = await inner.AddRoleAsync(userId, role, cancellationToken, auditRecord).ConfigureAwait(false);
        _roles.Invalidate(userId);
        return added;
    }

    public Task<IReadOnlyList<string>> GetRolesAsync(string userId, CancellationToken cancellationToken) => _roles.GetAsync(userId, id => inner.GetRolesAsync(id, cancellationToken));

    public Task<IReadOnlyList<(string GroupId, string UserId)>> ListMembershipsAsync(CancellationToken cancellationToken) => inner.ListMembershipsAsync(cancellationToken);

    public Task<IReadOnlyList<string>> ListRolesAsync(CancellationToken cancellationToken) => inner.ListRolesAsync(cancellationToken);

    public async Task<bool> RemoveGroupMemberAsync(string groupId, string userId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var removed = await inner.RemoveGroupMemberAsync(groupId, userId, cancellationToken, auditRecord).ConfigureAwait(false);
        _groups.Invalidate(userId);
        return removed;
    }

    public async Task<bool> RemoveRoleAsync(string userId, string role, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var removed = await inner.RemoveRoleAsync(userId, role, cancellationToken, auditRecord).ConfigureAwait(false);
        _roles.Invalidate(userId);
        return removed;
    }
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

    public async Task RevokeSessionAsync(string sessionId, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        await inner.RevokeSessionAsync(sessionId, cancellationToken, auditRecord).ConfigureAwait(false);
        _sessions.Invalidate(sessionId);
    }

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
    public async Task RevokeRefreshTokenFamilyAsync(string familyId, CancellationToken cancellationToken)
    {
        await inner.RevokeRefreshTokenFamilyAsync(familyId, cancellationToken).ConfigureAwait(false);
        _signOuts.InvalidateAll();
    }

    public Task<DateTimeOffset?> FindClientSignOutAsync(string sessionId, string clientId, CancellationToken cancellationToken) =>
        _signOuts.GetAsync((sessionId, clientId), key => inner.FindClientSignOutAsync(key.Item1, key.Item2, cancellationToken));

    public Task<IReadOnlyList<ClientConnection>> ListConnectionsAsync(string userId, CancellationToken cancellationToken) => inner.ListConnectionsAsync(userId, cancellationToken);

    // Like session revocation: at once in this process (the console runs in it), within the TTL in other instances.
    public async Task DisconnectClientAsync(string userId, string clientId, DateTimeOffset at, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        await inner.DisconnectClientAsync(userId, clientId, at, cancellationToken, auditRecord).ConfigureAwait(false);
        _disconnections.Invalidate((userId, clientId));
    }

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

    public Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken) => _clients.GetAsync(clientId, id => inner.FindClientAsync(id, cancellationToken));

    public async Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var changed = await inner.SetClientEnabledAsync(clientId, enabled, cancellationToken, auditRecord).ConfigureAwait(false);
        _clients.Invalidate(clientId);
        return changed;
    }

    public async Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var changed = await inner.SetClientSecretHashAsync(clientId, secretHash, cancellationToken, auditRecord).ConfigureAwait(false);
        _clients.Invalidate(clientId);
        return changed;
    }

    public Task<IReadOnlyList<ClientApplication>> ListClientsAsync(CancellationToken cancellationToken) => inner.ListClientsAsync(cancellationToken);

    public async Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var created = await inner.CreateClientAsync(client, cancellationToken, auditRecord).ConfigureAwait(false);
        _clients.Invalidate(client.ClientId);
        return created;
    }

    public Task<IReadOnlyList<ProtectedResource>> ListResourcesAsync(CancellationToken cancellationToken) => _resources.GetAsync(string.Empty, _ => inner.ListResourcesAsync(cancellationToken));

    public async Task<bool> CreateResourceAsync(ProtectedResource resource, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var created = await inner.CreateResourceAsync(resource, cancellationToken, auditRecord).ConfigureAwait(false);
        _resources.InvalidateAll();
        return created;
    }

    public async Task<bool> DeleteResourceAsync(string id, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null)
    {
        var deleted = await inner.DeleteResourceAsync(id, cancellationToken, auditRecord).ConfigureAwait(false);
        _resources.InvalidateAll();
        return deleted;
    }

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
