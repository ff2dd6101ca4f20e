using System.Text.RegularExpressions;
using Ema.Admin.Console;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Policy;
using Ema.Server.Security;
using Ema.Server.Stores;
using Ema.Tokens.Keys;
using Microsoft.Extensions.Options;

namespace Ema.Admin;

/// <summary>Outcome of an admin change: done (with a one-time secret when one was created) or refused with a reason.</summary>
public sealed record AdminResult(bool Succeeded, string Message, string? OneTimeSecret = null, IReadOnlyList<PolicyError>? PolicyErrors = null)
{
    /// <summary>For a policy that was applied: names its rules use that match nothing (<see cref="PolicyReferences"/>).</summary>
    public IReadOnlyList<PolicyError> PolicyWarnings { get; init; } = [];

    public static AdminResult Done(string message, string? oneTimeSecret = null) => new(true, message, oneTimeSecret);

    public static AdminResult Refused(string message, IReadOnlyList<PolicyError>? errors = null) => new(false, message, null, errors);
}

/// <summary>
/// Every change the console and the admin API make, in one place: input checked first (a refusal changes nothing),
/// then the change and exactly one audit record naming who made it, stored together in one transaction or not at all
/// (<see cref="AuditUnavailableException"/>: nothing is in force unrecorded, and no secret is handed out for a change
/// that did not happen). Secrets are generated here, stored as hashes and returned once for display; they are never
/// audited or logged.
/// </summary>
public sealed partial class AdminOperations(
    IDirectoryStore directory,
    IApplicationStore applications,
    IGrantStore grants,
    IPolicyStore policies,
    IMfaStore mfa,
    IEntitlementStore entitlements,
    IKeyProtector keyProtector,
    PasswordHasher passwords,
    SigningKeyManager keys,
    IOptions<IdentityProviderOptions> idp,
    IOptions<AdminConsoleOptions> console,
    TimeProvider time)
{
    private static readonly string[] Risks = ["low", "medium", "high"];

    public async Task<AdminResult> CreateUserAsync(ConsoleUser by, string username, string displayName, string? email, string? department, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        username = (username ?? string.Empty).Trim();
        if (!AdminInput.IdPattern().IsMatch(username) || !AdminInput.IsText(displayName, required: true) || !AdminInput.IsText(department, required: false))
        {
            return AdminResult.Refused("A username (letters, digits, '.', '_' or '-') and a display name (at most 200 characters) are required.");
        }

        if (!string.IsNullOrWhiteSpace(email) && (!System.Net.Mail.MailAddress.TryCreate(email.Trim(), out var address) || address.Address != email.Trim()))
        {
            return AdminResult.Refused($"'{email}' is not an email address.");
        }

        var password = SecretHasher.NewSecret()[..20];
        var user = new User(SecretHasher.NewId("usr_"), username, displayName.Trim(), string.IsNullOrWhiteSpace(email) ? null : email.Trim(), UserStatus.Active, string.IsNullOrWhiteSpace(department) ? null : department.Trim());
        if (!await directory.CreateUserAsync(user, passwords.Hash(password), cancellationToken, Record(by, "user_create", $"created user {username}", user.Id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"A user '{username}' already exists.");
        }

        return AdminResult.Done($"Created user {username}. Give them this first password; it is not shown again.", password);
    }

    public async Task<AdminResult> SetUserStatusAsync(ConsoleUser by, string username, UserStatus status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var user = await directory.FindUserByUsernameAsync(username ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            return AdminResult.Refused($"There is no user '{username}'.");
        }

        if (user.Id == by.Id && status != UserStatus.Active)
        {
            return AdminResult.Refused("You cannot disable your own account.");
        }

        if (!await directory.SetUserStatusAsync(user.Id, status, cancellationToken, Record(by, "user_status", $"set {user.Username} {status.ToString().ToLowerInvariant()}", user.Id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"There is no user '{username}'.");
        }

        return AdminResult.Done($"{user.Username} is now {status.ToString().ToLowerInvariant()}.");
    }

    /// <summary>
    /// Helpdesk unlock: clears the user's failed sign-ins and one-time codes and ends their locks (a user locked out by
    /// someone guessing, or by their own typos). The back-off starts again from zero.
    /// </summary>
    public async Task<AdminResult> UnlockUserAsync(ConsoleUser by, string username, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var user = await directory.FindUserByUsernameAsync(username ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            return AdminResult.Refused($"There is no user '{username}'.");
        }

        if (!await directory.UnlockAsync(user.Id, cancellationToken, Record(by, "user_unlock", $"cleared the failed sign-ins and one-time codes of {user.Username}", user.Id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"{user.Username} has no failed sign-ins to clear.");
        }

        return AdminResult.Done($"{user.Username} can sign in again: failed attempts cleared.");
    }

    /// <summary>Lost device: removes the user's authenticator and ends their sessions; their next MFA sign-in enrols a new one.</summary>
    public async Task<AdminResult> ResetMfaAsync(ConsoleUser by, string username, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var user = await directory.FindUserByUsernameAsync(username ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            return AdminResult.Refused($"There is no user '{username}'.");
        }

        // The authenticator, the sessions that proved it (whoever holds the lost device gains nothing from them) and the
        // record go in one transaction; then each session is revoked again through the grant store, a no-op in the
        // database that ends it in this process's session cache at once. That second step is best effort: the reset is
        // stored and recorded by then, and a cached session lookup expires within the cache's TTL (as in other instances).
        var sessions = await grants.ListSessionsAsync(user.Id, cancellationToken).ConfigureAwait(false);
        if (!await mfa.RemoveAuthenticatorAsync(user.Id, cancellationToken, Record(by, "mfa_reset", $"removed the authenticator of {user.Username} and ended their sessions", user.Id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"{user.Username} has no authenticator.");
        }

        foreach (var session in sessions)
        {
            try
            {
                await grants.RevokeSessionAsync(session.Id, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Already ended in the database (above); only this process's cache of it waits for its TTL.
            }
        }

        return AdminResult.Done($"{user.Username}'s authenticator is removed and their sessions are ended; their next sign-in that needs MFA sets up a new one.");
    }

    /// <summary>
    /// Enrols a new authenticator for a user who cannot enrol themselves (for example an administrator, who is never
    /// offered self-enrolment); the secret is returned once. An existing authenticator is replaced.
    /// </summary>
    public async Task<AdminResult> EnrolMfaAsync(ConsoleUser by, string username, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var user = await directory.FindUserByUsernameAsync(username ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            return AdminResult.Refused($"There is no user '{username}'.");
        }

        var secret = await mfa.EnrolNewAsync(keyProtector, user.Id, cancellationToken, Record(by, "mfa_enrol", $"enrolled a new authenticator for {user.Username}", user.Id)).ConfigureAwait(false);
        return AdminResult.Done($"Enrolled an authenticator for {user.Username}. Add its secret to their authenticator app now: it is not shown again.", secret);
    }

    public async Task<AdminResult> AddRoleAsync(ConsoleUser by, string username, string role, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var user = await directory.FindUserByUsernameAsync(username ?? string.Empty, cancellationToken).ConfigureAwait(false);
        role = (role ?? string.Empty).Trim();
        if (user is null || !AdminInput.IdPattern().IsMatch(role))
        {
            return AdminResult.Refused(user is null ? $"There is no user '{username}'." : "A role is a word of letters, digits, '.', '_' or '-'.");
        }

        if (!await directory.AddRoleAsync(user.Id, role, cancellationToken, Record(by, "role_add", $"gave {user.Username} the role {role}", user.Id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"{user.Username} already has the role {role}.");
        }

        return AdminResult.Done($"{user.Username} now has the role {role}.");
    }

    public async Task<AdminResult> RemoveRoleAsync(ConsoleUser by, string username, string role, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var user = await directory.FindUserByUsernameAsync(username ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            return AdminResult.Refused($"There is no user '{username}'.");
        }

        if (user.Id == by.Id && role == console.Value.AdminRole)
        {
            // Keeps at least the admin making the change: nobody locks the organization out of its console by a click.
            return AdminResult.Refused("You cannot remove your own administrator role.");
        }

        if (!await directory.RemoveRoleAsync(user.Id, role ?? string.Empty, cancellationToken, Record(by, "role_remove", $"removed the role {role} from {user.Username}", user.Id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"{user.Username} does not have the role {role}.");
        }

        return AdminResult.Done($"{user.Username} no longer has the role {role}.");
    }

    public async Task<AdminResult> CreateGroupAsync(ConsoleUser by, string id, string name, string? description, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        id = (id ?? string.Empty).Trim();
        if (!AdminInput.IdPattern().IsMatch(id) || !AdminInput.IsText(name, required: true) || !AdminInput.IsText(description, required: false))
        {
            return AdminResult.Refused("A group needs an id (letters, digits, '.', '_' or '-') and a name (at most 200 characters).");
        }

        if (!await directory.CreateGroupAsync(new Ema.Server.Model.Group(id, name.Trim(), string.IsNullOrWhiteSpace(description) ? null : description.Trim()), cancellationToken, Record(by, "group_create", $"created group {id}", id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"A group with the id '{id}' or the name '{name}' already exists.");
        }

        return AdminResult.Done($"Created group {id}.");
    }

    public async Task<AdminResult> AddGroupMemberAsync(ConsoleUser by, string groupId, string username, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var user = await directory.FindUserByUsernameAsync((username ?? string.Empty).Trim(), cancellationToken).ConfigureAwait(false);
        var group = (await directory.ListGroupsAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(g => g.Id == groupId);
        if (user is null || group is null)
        {
            return AdminResult.Refused(user is null ? $"There is no user '{username}'." : $"There is no group '{groupId}'.");
        }

        if (!await directory.AddGroupMemberAsync(group.Id, user.Id, cancellationToken, Record(by, "group_member_add", $"added {user.Username} to {group.Id}", user.Id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"{user.Username} is already in {group.Name}.");
        }

        return AdminResult.Done($"Added {user.Username} to {group.Name}.");
    }

    public async Task<AdminResult> RemoveGroupMemberAsync(ConsoleUser by, string groupId, string username, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var user = await directory.FindUserByUsernameAsync((username ?? string.Empty).Trim(), cancellationToken).ConfigureAwait(false);
        if (user is null || !await directory.RemoveGroupMemberAsync(groupId ?? string.Empty, user.Id, cancellationToken, Record(by, "group_member_remove", $"removed {user.Username} from {groupId}", user.Id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"{username} is not a member of {groupId}.");
        }

        return AdminResult.Done($"Removed {user.Username} from {groupId}.");
    }

    public Task<AdminResult> CreateClientAsync(ConsoleUser by, string clientId, string name, IReadOnlyList<string> redirectUris, string authenticationMethod, bool tokenExchange, CancellationToken cancellationToken) =>
        CreateClientAsync(by, clientId, name, redirectUris, authenticationMethod, tokenExchange, null, cancellationToken);

    /// <summary>
    /// A client application; a confidential one's secret is returned once. With <c>private_key_jwt</c> the client has no
    /// secret: <paramref name="jwks"/> holds the public keys its assertions are verified with (RFC 7523 §2.2).
    /// </summary>
    public Task<AdminResult> CreateClientAsync(ConsoleUser by, string clientId, string name, IReadOnlyList<string> redirectUris, string authenticationMethod, bool tokenExchange, string? jwks, CancellationToken cancellationToken) =>
        CreateClientAsync(by, clientId, name, redirectUris, authenticationMethod, tokenExchange, jwks, requireDpop: false, cancellationToken);

    /// <summary>The same; with <paramref name="requireDpop"/> the client gets key-bound ID-JAGs only (ADR 0007).</summary>
    public async Task<AdminResult> CreateClientAsync(ConsoleUser by, string clientId, string name, IReadOnlyList<string> redirectUris, string authenticationMethod, bool tokenExchange, string? jwks, bool requireDpop, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        ArgumentNullException.ThrowIfNull(redirectUris);
        clientId = (clientId ?? string.Empty).Trim();
        if (!AdminInput.IdPattern().IsMatch(clientId) || !AdminInput.IsText(name, required: true))
        {
            return AdminResult.Refused("A client needs an id (letters, digits, '.', '_' or '-') and a name.");
        }

        if (authenticationMethod is not (ClientAuthenticationMethods.ClientSecretBasic or ClientAuthenticationMethods.ClientSecretPost or ClientAuthenticationMethods.PrivateKeyJwt or ClientAuthenticationMethods.None))
        {
            return AdminResult.Refused("The authentication method must be client_secret_basic, client_secret_post, private_key_jwt or none.");
        }

        if (requireDpop && !tokenExchange)
        {
            return AdminResult.Refused("DPoP required concerns ID-JAGs: it needs token exchange allowed.");
        }

        if ((authenticationMethod == ClientAuthenticationMethods.PrivateKeyJwt) != (jwks is not null))
        {
            return AdminResult.Refused("private_key_jwt needs the client's public keys (a JWK Set), and only private_key_jwt takes them.");
        }

        if (jwks is not null && AdminInput.ClientJwksProblem(jwks) is { } jwksProblem)
        {
            return AdminResult.Refused(jwksProblem);
        }

        foreach (var uri in redirectUris)
        {
            // RFC 6749 §3.1.2: absolute, no fragment; https except loopback (RFC 8252 §7.3).
            if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.Fragment.Length > 0 || (parsed.Scheme != Uri.UriSchemeHttps && !(parsed.Scheme == Uri.UriSchemeHttp && parsed.IsLoopback)))
            {
                return AdminResult.Refused($"'{uri}' is not a valid redirect URI (absolute, no fragment, https unless loopback).");
            }
        }

        var secret = authenticationMethod is ClientAuthenticationMethods.None or ClientAuthenticationMethods.PrivateKeyJwt ? null : SecretHasher.NewSecret();
        var client = new ClientApplication
        {
            ClientId = clientId,
            Name = name.Trim(),
            RedirectUris = redirectUris,
            AuthenticationMethod = authenticationMethod,
            SecretHash = secret is null ? null : SecretHasher.Hash(secret),
            Jwks = jwks,
            RequireDpop = requireDpop,
            GrantTypes = tokenExchange ? [GrantTypes.AuthorizationCode, GrantTypes.RefreshToken, GrantTypes.TokenExchange] : [GrantTypes.AuthorizationCode, GrantTypes.RefreshToken],
            TokenExchangeAllowed = tokenExchange,
        };
        if (!await applications.CreateClientAsync(client, cancellationToken, Record(by, "client_create", $"created client {clientId} ({authenticationMethod}{(tokenExchange ? ", token exchange" : string.Empty)}{(requireDpop ? ", DPoP required" : string.Empty)})", clientId)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"A client '{clientId}' already exists.");
        }

        return AdminResult.Done(
            jwks is not null ? $"Created client {clientId} (private_key_jwt: it signs its assertions with the keys registered)."
            : secret is null ? $"Created public client {clientId}."
            : $"Created client {clientId}. Copy its secret now: it is not shown again.",
            secret);
    }

    public async Task<AdminResult> RotateClientSecretAsync(ConsoleUser by, string clientId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var client = await applications.FindClientAsync(clientId ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (client is null || client.IsPublic || client.ClientId == ConsoleNames.ClientId)
        {
            return AdminResult.Refused(client is null ? $"There is no client '{clientId}'." : $"{client.ClientId} is a public client: it has no secret.");
        }

        if (client.AuthenticationMethod == ClientAuthenticationMethods.PrivateKeyJwt)
        {
            return AdminResult.Refused($"{client.ClientId} authenticates with keys (private_key_jwt), not a secret: replace its keys instead.");
        }

        var secret = SecretHasher.NewSecret();
        if (!await applications.SetClientSecretHashAsync(client.ClientId, SecretHasher.Hash(secret), cancellationToken, Record(by, "client_secret_rotate", $"rotated the secret of {client.ClientId}", client.ClientId)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"There is no client '{clientId}'.");
        }

        return AdminResult.Done($"New secret for {client.ClientId}; the old one no longer works. Copy it now: it is not shown again.", secret);
    }

    /// <summary>Turns "DPoP required" on or off for a client (ADR 0007): on, its token exchanges need a proof.</summary>
    public async Task<AdminResult> SetClientRequireDpopAsync(ConsoleUser by, string clientId, bool requireDpop, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var client = await applications.FindClientAsync(clientId ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (client is null)
        {
            return AdminResult.Refused($"There is no client '{clientId}'.");
        }

        if (requireDpop && !client.TokenExchangeAllowed)
        {
            return AdminResult.Refused("DPoP required concerns ID-JAGs: this client may not use token exchange.");
        }

        await applications.SetClientRequireDpopAsync(client.ClientId, requireDpop, cancellationToken, Record(by, "client_require_dpop", $"{(requireDpop ? "required" : "no longer required")} DPoP for {client.ClientId}", client.ClientId)).ConfigureAwait(false);
        return AdminResult.Done($"{client.ClientId}: DPoP {(requireDpop ? "required — its token exchanges need a proof" : "no longer required")}.");
    }

    /// <summary>Replaces a private_key_jwt client's public keys: assertions signed with the old ones stop working.</summary>
    public async Task<AdminResult> ReplaceClientKeysAsync(ConsoleUser by, string clientId, string jwks, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        clientId ??= string.Empty;
        if (AdminInput.ClientJwksProblem(jwks ?? string.Empty) is { } problem)
        {
            return AdminResult.Refused(problem);
        }

        return await applications.SetClientJwksAsync(clientId, jwks!, cancellationToken, Record(by, "client_keys_replace", $"replaced the keys of {clientId}", clientId)).ConfigureAwait(false)
            ? AdminResult.Done($"Replaced the keys of {clientId}; assertions signed with the old ones no longer work.")
            : AdminResult.Refused($"There is no private_key_jwt client '{clientId}'.");
    }

    public async Task<AdminResult> SetClientEnabledAsync(ConsoleUser by, string clientId, bool enabled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        if (clientId == ConsoleNames.ClientId && !enabled)
        {
            return AdminResult.Refused("The console's own client cannot be disabled from the console.");
        }

        if (!await applications.SetClientEnabledAsync(clientId ?? string.Empty, enabled, cancellationToken, Record(by, enabled ? "client_enable" : "client_disable", $"{(enabled ? "enabled" : "disabled")} client {clientId}", clientId)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"There is no client '{clientId}'.");
        }

        return AdminResult.Done($"{clientId} is {(enabled ? "enabled" : "disabled")}.");
    }

    /// <summary>Sets the client's id at a resource's authorization server (the <c>client_id</c> its ID-JAGs carry).</summary>
    public async Task<AdminResult> MapClientIdAsync(ConsoleUser by, string clientId, string resourceId, string clientIdAtResource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        clientIdAtResource = (clientIdAtResource ?? string.Empty).Trim();
        if (await applications.FindClientAsync(clientId ?? string.Empty, cancellationToken).ConfigureAwait(false) is null
            || await applications.FindResourceAsync(resourceId ?? string.Empty, cancellationToken).ConfigureAwait(false) is null)
        {
            return AdminResult.Refused($"Unknown client '{clientId}' or resource '{resourceId}'.");
        }

        if (!AdminInput.IsText(clientIdAtResource, required: true) || clientIdAtResource.Any(char.IsControl))
        {
            return AdminResult.Refused("The client id at the resource must be non-empty text (at most 200 characters).");
        }

        if (!await applications.SetClientIdAtResourceAsync(clientId!, resourceId!, clientIdAtResource, cancellationToken, Record(by, "client_map", $"{clientId} is {clientIdAtResource} at {resourceId}", resourceId, clientId: clientId)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"Unknown client '{clientId}' or resource '{resourceId}'.");
        }

        return AdminResult.Done($"{clientId} is {clientIdAtResource} at {resourceId}.");
    }

    /// <summary>Entitles a group or a user (exactly one) to use a client with a resource and some of its scopes.</summary>
    public async Task<AdminResult> CreateEntitlementAsync(ConsoleUser by, string? groupId, string? userId, string clientId, string resourceId, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        ArgumentNullException.ThrowIfNull(scopes);
        if ((groupId is null) == (userId is null))
        {
            return AdminResult.Refused("Give exactly one of a group and a user.");
        }

        var target = await applications.FindResourceAsync(resourceId ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (target is null || await applications.FindClientAsync(clientId ?? string.Empty, cancellationToken).ConfigureAwait(false) is null)
        {
            return AdminResult.Refused("Unknown client or resource.");
        }

        var unknown = scopes.Where(x => target.Scopes.All(d => d.Name != x)).ToList();
        if (unknown.Count > 0 || scopes.Count == 0)
        {
            return AdminResult.Refused(scopes.Count == 0 ? "Name at least one scope." : $"Resource {target.Id} does not define: {string.Join(' ', unknown)}.");
        }

        var entitlement = new Entitlement(SecretHasher.NewId("ent_", 9), groupId is null ? EntitlementSubjectType.User : EntitlementSubjectType.Group, groupId ?? userId!, clientId!, target.Id, scopes);
        var record = Record(by, "entitlement_create", $"entitled {entitlement.SubjectType.ToString().ToLowerInvariant()} {entitlement.SubjectId} to {target.Id} via {clientId}: {string.Join(' ', scopes)}", target.Id, clientId: clientId);
        if (!await entitlements.CreateAsync(entitlement, cancellationToken, record).ConfigureAwait(false))
        {
            return AdminResult.Refused("Could not create the entitlement (an unknown group or user?).");
        }

        return AdminResult.Done($"Created entitlement {entitlement.Id}.");
    }

    /// <summary>Scopes as lines of <c>name</c> or <c>name:risk</c> (risk low, medium or high).</summary>
    public async Task<AdminResult> CreateResourceAsync(ConsoleUser by, string id, string displayName, string resource, string authorizationServer, string scopeLines, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        id = (id ?? string.Empty).Trim();
        if (!AdminInput.IdPattern().IsMatch(id) || !AdminInput.IsText(displayName, required: true))
        {
            return AdminResult.Refused("A resource needs an id (letters, digits, '.', '_' or '-') and a name (at most 200 characters).");
        }

        foreach (var url in new[] { resource, authorizationServer })
        {
            // RFC 9728 §1.2 / RFC 8414 §2: https URLs without query or fragment.
            if (!Uri.TryCreate(url?.Trim(), UriKind.Absolute, out var parsed) || parsed.Scheme != Uri.UriSchemeHttps || parsed.Query.Length > 0 || parsed.Fragment.Length > 0)
            {
                return AdminResult.Refused($"'{url}' is not an https URL without query or fragment.");
            }
        }

        var scopes = new List<ResourceScope>();
        foreach (var line in (scopeLines ?? string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(':', 2, StringSplitOptions.TrimEntries);
            if (!Ema.Tokens.ScopeList.TryParse(parts[0], out var parsed) || parsed.Count != 1 || (parts.Length == 2 && !Risks.Contains(parts[1].ToLowerInvariant())))
            {
                return AdminResult.Refused($"'{line}' is not a scope line: write name or name:low|medium|high.");
            }

            if (scopes.Any(s => s.Name == parts[0]))
            {
                return AdminResult.Refused($"The scope {parts[0]} is listed twice.");
            }

            scopes.Add(new ResourceScope(parts[0], parts.Length == 2 ? Enum.Parse<ScopeRisk>(parts[1], ignoreCase: true) : ScopeRisk.Low));
        }

        var application = new ResourceApplication { Id = id, DisplayName = displayName.Trim(), Resource = resource!.Trim(), AuthorizationServerIssuer = authorizationServer!.Trim(), Scopes = scopes };
        if (!await applications.CreateResourceAsync(application, cancellationToken, Record(by, "resource_create", $"created resource {id} ({application.Resource})", id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"A resource with the id '{id}' or the identifier '{resource}' already exists.");
        }

        return AdminResult.Done($"Created resource {id}.");
    }

    public async Task<AdminResult> ImportPolicyAsync(ConsoleUser by, string yaml, string? comment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        // The version and its audit record are stored together or not at all: a policy is never in force unrecorded.
        var (version, errors) = await new PolicyAdministration(policies).ImportAsync(
            yaml ?? string.Empty,
            by.Username,
            string.IsNullOrWhiteSpace(comment) ? null : comment.Trim(),
            cancellationToken,
            v => Record(by, "policy", $"policy version {v.Version} imported by {by.Username}" + (v.Comment is { } c ? $": {c}" : string.Empty), v.Sha256)).ConfigureAwait(false);
        if (version is null)
        {
            return AdminResult.Refused("The policy has errors; nothing was applied.", errors);
        }

        var warnings = await PolicyReferences.FindUnknownAsync(PolicyYaml.Parse(version.Yaml).Document!, directory, applications, cancellationToken).ConfigureAwait(false);
        return AdminResult.Done($"Policy version {version.Version} is in force.") with { PolicyWarnings = warnings };
    }

    public async Task<AdminResult> RollbackPolicyAsync(ConsoleUser by, long toVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var (version, errors) = await new PolicyAdministration(policies).RollbackAsync(
            toVersion, by.Username, cancellationToken, v => Record(by, "policy", $"policy rolled back to version {toVersion} as version {v.Version} by {by.Username}", v.Sha256)).ConfigureAwait(false);
        if (version is null)
        {
            return errors.Count == 0
                ? AdminResult.Refused($"There is no version {toVersion}.")
                : AdminResult.Refused($"Version {toVersion} cannot be put in force again; nothing was applied.", errors);
        }

        return AdminResult.Done($"Policy version {version.Version} (a copy of version {toVersion}) is in force.");
    }

    /// <summary>
    /// Ends the caller's own sign-in (<c>ema admin logout</c>): its IdP session is revoked, so its tokens — every token of
    /// that session — stop working at once; one audit record, as any session revocation.
    /// </summary>
    public Task<AdminResult> EndOwnSessionAsync(ConsoleUser by, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        return by.SessionId is { } session
            ? RevokeSessionAsync(by, session, cancellationToken)
            : Task.FromResult(AdminResult.Refused("This sign-in names no IdP session."));
    }

    public async Task<AdminResult> RevokeSessionAsync(ConsoleUser by, string sessionId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var session = await grants.FindSessionAsync(sessionId ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (session is null || session.Revoked)
        {
            return AdminResult.Refused("There is no such live session.");
        }

        await grants.RevokeSessionAsync(session.Id, cancellationToken, Record(by, "session_revoke", $"revoked session {session.Id} of {session.UserId}", session.UserId, sessionId: session.Id)).ConfigureAwait(false);
        return AdminResult.Done($"Session {session.Id} is revoked: its refresh tokens and ID tokens no longer yield grants.");
    }

    /// <summary>Rotates the IdP's signing keys: the next key becomes current, a new next key is published, the old current is retired.</summary>
    public async Task<AdminResult> RotateSigningKeysAsync(ConsoleUser by, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        var options = new SigningKeyRingOptions { Algorithm = idp.Value.SigningAlgorithm, RetiredKeyRetention = idp.Value.IdTokenLifetime + TimeSpan.FromMinutes(5) };
        var current = await keys.RotateAsync(IdentityProviderTokens.KeyPurpose, options, cancellationToken, kid => Record(by, "signing_key_rotate", $"rotated the IdP signing keys; current kid {kid}", kid)).ConfigureAwait(false);
        return AdminResult.Done($"Rotated. The current signing key is {current}.");
    }

    /// <summary>Self-service: the user disconnects one of their clients.</summary>
    public async Task<AdminResult> DisconnectClientAsync(ConsoleUser user, string clientId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        var client = await applications.FindClientAsync(clientId ?? string.Empty, cancellationToken).ConfigureAwait(false);
        if (client is null)
        {
            return AdminResult.Refused($"There is no client '{clientId}'.");
        }

        await grants.DisconnectClientAsync(user.Id, client.ClientId, GrantStoreExtensions.CutOffAfter(time.GetUtcNow()), cancellationToken, Record(user, "client_disconnect", $"{user.Username} disconnected {client.ClientId}", null, clientId: client.ClientId)).ConfigureAwait(false);
        return AdminResult.Done($"{client.Name} is disconnected: it can no longer get new access on your behalf until you sign in to it again (access it already obtained ends when it expires, within the hour).");
    }

    private AuditEvent Record(ConsoleUser by, string action, string reason, string? target, string? sessionId = null, string? clientId = null) =>
        AdminInput.Record(time, by, action, reason, target, sessionId, clientId);
}
