using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Policy;
using Ema.Server.Security;
using Ema.Server.Stores;
using Microsoft.Extensions.Options;

namespace Ema.Admin;

/// <summary>A user as the console shows it: never a password hash or an MFA secret, only whether one is enrolled.</summary>
public sealed record UserView(string Id, string Username, string DisplayName, string? Email, string? Department, string Status, IReadOnlyList<string> Groups, IReadOnlyList<string> Roles, bool MfaEnrolled, DateTimeOffset? LockedUntil = null);

public sealed record GroupView(string Id, string Name, string? Description, IReadOnlyList<string> Members);

/// <summary>A client as the console shows it: whether it has a secret, never the secret or its hash.</summary>
public sealed record ClientView(string ClientId, string Name, string AuthenticationMethod, bool HasSecret, bool Enabled, bool TokenExchange, IReadOnlyList<string> RedirectUris, IReadOnlyList<string> GrantTypes, bool RequireDpop = false);

public sealed record ScopeView(string Name, string Risk, string? Description);

public sealed record ResourceView(string Id, string Name, string Resource, string AuthorizationServer, bool Enabled, IReadOnlyList<ScopeView> Scopes);

public sealed record SessionView(string Id, string UserId, string Username, DateTimeOffset AuthTime, string? Acr, IReadOnlyList<string> Amr, DateTimeOffset ExpiresAt);

public sealed record SigningKeyView(string KeyId, string Algorithm, string Status, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt);

public sealed record PolicyVersionView(long Version, string Sha256, DateTimeOffset CreatedAt, string CreatedBy, string? Comment);

/// <summary>Where the policy in force comes from (ManagedAccessPolicy: file &gt; newest stored version &gt; entitlements v1).</summary>
public sealed record PolicySource(string Kind, PolicyVersion? Version, string? File);

/// <summary>A client the user is signed in to, with the servers and scopes the policy in force gives it.</summary>
/// <param name="ClientId">The client's id.</param>
/// <param name="ClientName">Its display name.</param>
/// <param name="Since">Its first sign-in of the standing connection (or the last sign-in, without one).</param>
/// <param name="GrantedScope">The sign-in scopes.</param>
/// <param name="Servers">The MCP servers and scopes it may reach for the user.</param>
/// <param name="Until">
/// For a client without a standing connection (it signed the user in without a refresh token): when that sign-in's ID
/// token stops yielding access. Null for a standing connection (refresh tokens).
/// </param>
public sealed record ConnectionView(string ClientId, string ClientName, DateTimeOffset Since, string GrantedScope, IReadOnlyList<EntitledResource> Servers, DateTimeOffset? Until = null);

/// <summary>The read side shared by the console pages and the JSON admin API.</summary>
public sealed class AdminQueries(
    IDirectoryStore directory,
    IApplicationStore applications,
    IGrantStore grants,
    IPolicyStore policies,
    IAuditReader audit,
    IAccessPolicy accessPolicy,
    IMfaStore mfa,
    SigningKeyManager keys,
    IOptions<IdentityProviderOptions> idp,
    TimeProvider time)
{
    /// <summary>Counts for the overview: one query each, whatever the size of the directory.</summary>
    public async Task<(int Users, int Groups, int Clients, int Resources, int Sessions)> CountAsync(CancellationToken cancellationToken) =>
        (await directory.CountUsersAsync(cancellationToken).ConfigureAwait(false),
         (await directory.ListGroupsAsync(cancellationToken).ConfigureAwait(false)).Count,
         (await applications.ListClientsAsync(cancellationToken).ConfigureAwait(false)).Count,
         (await applications.ListResourcesAsync(cancellationToken).ConfigureAwait(false)).Count,
         (await grants.ListSessionsAsync(null, cancellationToken).ConfigureAwait(false)).Count);

    /// <summary>Users by username (<see cref="Api.UserOrder"/>), those after <paramref name="afterUsername"/> when given: a reader pages on with the last one it got.</summary>
    public async Task<IReadOnlyList<UserView>> ListUsersAsync(string? search, int limit, CancellationToken cancellationToken, string? afterUsername = null)
    {
        var groups = (await directory.ListGroupsAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(g => g.Id, g => g.Name, StringComparer.Ordinal);

        // Without a search, a page is a range read of the store (a directory of millions pages as cheaply as one of ten);
        // a search (the console's box: usernames and display names, any case) reads the directory.
        var users = string.IsNullOrWhiteSpace(search)
            ? await directory.ListUsersPageAsync(afterUsername, limit, cancellationToken).ConfigureAwait(false)
            : [.. (await directory.ListUsersAsync(cancellationToken).ConfigureAwait(false))
                .Where(u => u.Username.Contains(search.Trim(), StringComparison.OrdinalIgnoreCase) || u.DisplayName.Contains(search.Trim(), StringComparison.OrdinalIgnoreCase))
                .Where(u => afterUsername is null || Api.UserOrder.Compare(u.Username, afterUsername) > 0)
                .OrderBy(u => u.Username, Api.UserOrder.Comparer)
                .Take(limit)];
        var views = new List<UserView>();
        var now = time.GetUtcNow();
        foreach (var user in users)
        {
            var groupIds = await directory.GetGroupIdsAsync(user.Id, cancellationToken).ConfigureAwait(false);

            // Locked out: by failed passwords or by failed one-time codes (only an enrolled user has those), whichever ends later.
            var enrolled = await mfa.FindTotpAsync(user.Id, cancellationToken).ConfigureAwait(false) is not null;
            var passwordLock = await directory.FindSignInLockAsync(user.Id, now, cancellationToken).ConfigureAwait(false);
            var codeLock = enrolled ? await mfa.FindCodeLockAsync(user.Id, now, cancellationToken).ConfigureAwait(false) : null;
            views.Add(new(
                user.Id,
                user.Username,
                user.DisplayName,
                user.Email,
                user.Department,
                user.Status.ToString().ToLowerInvariant(),
                [.. groupIds.Select(id => groups.TryGetValue(id, out var name) ? name : id)],
                await directory.GetRolesAsync(user.Id, cancellationToken).ConfigureAwait(false),
                enrolled,
                passwordLock > codeLock || codeLock is null ? passwordLock : codeLock));
        }

        return views;
    }

    public async Task<IReadOnlyList<GroupView>> ListGroupsAsync(CancellationToken cancellationToken)
    {
        var usernames = (await directory.ListUsersAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(u => u.Id, u => u.Username, StringComparer.Ordinal);
        var members = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (group, user) in await directory.ListMembershipsAsync(cancellationToken).ConfigureAwait(false))
        {
            (members.TryGetValue(group, out var list) ? list : members[group] = []).Add(usernames.TryGetValue(user, out var name) ? name : user);
        }

        return [.. (await directory.ListGroupsAsync(cancellationToken).ConfigureAwait(false)).Select(g => new GroupView(g.Id, g.Name, g.Description, members.TryGetValue(g.Id, out var m) ? [.. m.Order(StringComparer.Ordinal)] : []))];
    }

    public async Task<IReadOnlyList<ClientView>> ListClientsAsync(CancellationToken cancellationToken) =>
        [.. (await applications.ListClientsAsync(cancellationToken).ConfigureAwait(false)).Select(c => new ClientView(c.ClientId, c.Name, c.AuthenticationMethod, c.SecretHash is not null, c.Enabled, c.TokenExchangeAllowed, c.RedirectUris, c.GrantTypes, c.RequireDpop))];

    public async Task<IReadOnlyList<ResourceView>> ListResourcesAsync(CancellationToken cancellationToken) =>
        [.. (await applications.ListResourcesAsync(cancellationToken).ConfigureAwait(false)).Select(ToView)];

    public static ResourceView ToView(ResourceApplication r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(r.Id, r.DisplayName, r.Resource, r.AuthorizationServerIssuer, r.Enabled, [.. r.Scopes.Select(s => new ScopeView(s.Name, s.Risk.ToString().ToLowerInvariant(), s.Description))]);
    }

    /// <summary>Live sessions, newest first; with <paramref name="username"/>, that user's only (none for an unknown user).</summary>
    public async Task<IReadOnlyList<SessionView>> ListSessionsAsync(CancellationToken cancellationToken, string? username = null)
    {
        string? userId = null;
        if (!string.IsNullOrWhiteSpace(username))
        {
            userId = (await directory.FindUserByUsernameAsync(username.Trim(), cancellationToken).ConfigureAwait(false))?.Id;
            if (userId is null)
            {
                return [];
            }
        }

        var names = (await directory.ListUsersAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(u => u.Id, u => u.Username, StringComparer.Ordinal);
        return [.. (await grants.ListSessionsAsync(userId, cancellationToken).ConfigureAwait(false)).Select(s => new SessionView(s.Id, s.UserId, names.TryGetValue(s.UserId, out var n) ? n : s.UserId, s.AuthTime, s.Acr, s.Amr, s.ExpiresAt))];
    }

    public IReadOnlyList<SigningKeyView> ListSigningKeys() =>
        [.. keys.GetLoaded(IdentityProviderTokens.KeyPurpose).Entries.Select(e => new SigningKeyView(e.Key.KeyId, e.Key.Algorithm.Name, e.Status.ToString().ToLowerInvariant(), e.CreatedAt, e.RetiredAt))];

    public async Task<PolicySource> GetPolicySourceAsync(CancellationToken cancellationToken)
    {
        if (idp.Value.PolicyFile is { Length: > 0 } file)
        {
            return new("file", null, file);
        }

        var current = await policies.GetCurrentAsync(cancellationToken).ConfigureAwait(false);
        return current is null ? new("entitlements", null, null) : new("version", current, null);
    }

    /// <summary>The users, groups, clients and resources a valid policy names that match nothing here (warnings).</summary>
    public Task<IReadOnlyList<PolicyError>> FindUnknownPolicyNamesAsync(PolicyDocument document, CancellationToken cancellationToken) =>
        PolicyReferences.FindUnknownAsync(document, directory, applications, cancellationToken);

    public async Task<IReadOnlyList<PolicyVersionView>> ListPolicyVersionsAsync(CancellationToken cancellationToken) =>
        [.. (await policies.ListAsync(cancellationToken).ConfigureAwait(false)).Select(v => new PolicyVersionView(v.Version, v.Sha256, v.CreatedAt, v.CreatedBy, v.Comment))];

    public Task<PolicyVersion?> GetPolicyVersionAsync(long version, CancellationToken cancellationToken) => policies.GetAsync(version, cancellationToken);

    /// <summary>Usernames by user id (audit pages show names; records keep ids).</summary>
    public async Task<IReadOnlyDictionary<string, string>> UsernamesAsync(CancellationToken cancellationToken) =>
        (await directory.ListUsersAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(u => u.Id, u => u.Username, StringComparer.Ordinal);

    /// <summary>Audit records; <paramref name="user"/> is a username or a user id.</summary>
    public async Task<IReadOnlyList<AuditEvent>> SearchAuditAsync(string? user, AuditQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!string.IsNullOrWhiteSpace(user))
        {
            var found = await directory.FindUserByUsernameAsync(user.Trim(), cancellationToken).ConfigureAwait(false);
            query = query with { Subject = found?.Id ?? user.Trim() };
        }

        return await audit.ListAsync(query, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The user's connected clients, each with the servers and scopes the policy in force gives it for them.</summary>
    public async Task<IReadOnlyList<ConnectionView>> ListConnectionsAsync(string userId, CancellationToken cancellationToken)
    {
        var user = await directory.FindUserAsync(userId, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            return [];
        }

        var groups = await directory.GetGroupIdsAsync(user.Id, cancellationToken).ConfigureAwait(false);
        var roles = await directory.GetRolesAsync(user.Id, cancellationToken).ConfigureAwait(false);
        var views = new List<ConnectionView>();
        foreach (var byClient in (await grants.ListConnectionsAsync(user.Id, cancellationToken).ConfigureAwait(false)).GroupBy(c => c.ClientId, StringComparer.Ordinal))
        {
            var client = await applications.FindClientAsync(byClient.Key, cancellationToken).ConfigureAwait(false);
            if (client is null || client.ClientId == Console.ConsoleNames.ClientId)
            {
                continue;
            }

            var servers = client.TokenExchangeAllowed ? await accessPolicy.ListEntitledAsync(user, groups, roles, client, cancellationToken).ConfigureAwait(false) : [];
            views.Add(new(client.ClientId, client.Name, byClient.Min(c => c.AuthTime), string.Join(' ', byClient.SelectMany(c => c.Scope.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Distinct(StringComparer.Ordinal)), servers));
        }

        // Clients that signed the user in without a refresh token hold no standing connection, but their ID token yields
        // ID-JAGs until it expires: found in the audit trail (the sign-ins of the last ID-token lifetime), unless the
        // user disconnected the client since.
        var now = time.GetUtcNow();
        var lifetime = idp.Value.IdTokenLifetime;
        var signIns = new List<AuditEvent>();
        foreach (var action in (string[])[GrantTypes.AuthorizationCode, GrantTypes.DeviceCode])
        {
            signIns.AddRange(await audit.ListAsync(new AuditQuery { Subject = user.Id, Type = AuditEventTypes.TokenRequest, Action = action, Outcome = AuditOutcomes.Granted, Since = now - lifetime, Limit = 1000 }, cancellationToken).ConfigureAwait(false));
        }

        foreach (var latest in signIns.Where(e => e.ClientId is not null && (e.Scope ?? string.Empty).Split(' ').Contains(OidcScopes.OpenId, StringComparer.Ordinal))
                     .GroupBy(e => e.ClientId!, StringComparer.Ordinal).Select(g => g.MaxBy(e => e.Time)!))
        {
            // Only what still works: not the console's own clients, not a client disabled or disconnected since, not a
            // sign-in whose session has ended (token exchange refuses its ID token).
            if (views.Any(v => v.ClientId == latest.ClientId) || latest.ClientId == Console.ConsoleNames.ClientId || latest.ClientId == Console.ConsoleNames.CliClientId
                || await grants.IsVoidedByDisconnectionAsync(user.Id, latest.ClientId!, latest.Time, cancellationToken).ConfigureAwait(false)
                || await applications.FindClientAsync(latest.ClientId!, cancellationToken).ConfigureAwait(false) is not { Enabled: true } client
                || latest.SessionId is null || await grants.FindSessionAsync(latest.SessionId, cancellationToken).ConfigureAwait(false) is not { Revoked: false } session || session.ExpiresAt <= now)
            {
                continue;
            }

            var servers = client.TokenExchangeAllowed ? await accessPolicy.ListEntitledAsync(user, groups, roles, client, cancellationToken).ConfigureAwait(false) : [];
            views.Add(new(client.ClientId, client.Name, latest.Time, latest.Scope ?? string.Empty, servers, latest.Time + lifetime));
        }

        return views;
    }
}
