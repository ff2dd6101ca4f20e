using System.CommandLine;
using Ema.Admin;
using Ema.Admin.Api;
using Ema.Admin.Console;
using Ema.Server.Audit;
using Ema.Protocol;
using Ema.Server;
using Ema.Server.AspNetCore;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Ema.Storage;

namespace Ema.Cli;

/// <summary>
/// <c>ema admin …</c>: manage the directory, applications and entitlements in the data folder's database, without a
/// running server. Secrets are printed once, at creation, and stored only as hashes.
/// </summary>
internal static class AdminCommands
{
    private static readonly Option<string?> Data = new("--data") { Description = "Data folder (default ~/.local/share/ema).", Recursive = true };

    public static Command Create()
    {
        var admin = new Command("admin", "Manage users, groups, clients, resources and entitlements.") { Data };
        admin.Subcommands.Add(Users());
        admin.Subcommands.Add(Groups());
        admin.Subcommands.Add(Clients());
        admin.Subcommands.Add(Resources());
        admin.Subcommands.Add(Entitlements());
        admin.Subcommands.Add(AuthorizationServer());
        admin.Subcommands.Add(PolicyCommands.Create(Data, Remote));
        admin.Subcommands.Add(Sessions());
        foreach (var remote in AdminRemoteCommands.Create())
        {
            admin.Subcommands.Add(remote);
        }
        return admin;
    }

    private static Command AuthorizationServer()
    {
        var root = new Command("as", "The authorization server for MCP servers: tenants, trusted IdPs, clients, resources (--remote: through the admin API).");

        var tenants = new Command("tenants", "Customer organizations.");
        var tenantList = new Command("list", "List tenants.") { Remote };
        tenantList.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAsync(p, "/as/tenants", ct) : Run(p, async (s, o) =>
        {
            foreach (var t in await s.GetRequiredService<IAuthorizationServerStore>().ListTenantsAsync(ct).ConfigureAwait(false))
            {
                o.WriteLine(TerminalText.Safe($"{t.Id,-20} {t.Name}"));
            }

            return 0;
        }, ct));
        var tenantId = new Option<string>("--id") { Required = true };
        var tenantName = new Option<string>("--name") { Required = true };
        var tenantAdd = new Command("add", "Add a tenant.") { tenantId, tenantName, By, Remote };
        tenantAdd.SetAction((p, ct) => AsChanged(p, ct, (ops, by) => ops.CreateTenantAsync(by, p.GetValue(tenantId)!, p.GetValue(tenantName)!, ct), "POST", "/tenants", new CreateTenantRequest(p.GetValue(tenantId)!, p.GetValue(tenantName)!)));
        tenants.Subcommands.Add(tenantList);
        tenants.Subcommands.Add(tenantAdd);
        root.Subcommands.Add(tenants);

        var issuers = new Command("issuers", "Trusted enterprise IdPs (each belongs to one tenant).");
        var issuerList = new Command("list", "List trusted issuers.") { Remote };
        issuerList.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAsync(p, "/as/issuers", ct) : Run(p, async (s, o) =>
        {
            foreach (var i in await s.GetRequiredService<IAuthorizationServerStore>().ListTrustedIssuersAsync(ct).ConfigureAwait(false))
            {
                var keys = i.MetadataUri is not null ? "metadata " + i.MetadataUri : i.JwksUri is not null ? "jwks " + i.JwksUri : "inline JWKS";
                o.WriteLine(TerminalText.Safe($"{i.Issuer}{(i.IssuerTenant is null ? string.Empty : $" (its tenant {i.IssuerTenant})")}  tenant {i.TenantId}  keys: {keys}  algs: {string.Join(',', i.AllowedAlgorithms)}  jit: {(i.JitProvisioning ? "on" : "off")}  clients: {(i.AllowedClientIds is null ? "any" : string.Join(',', i.AllowedClientIds))}{(i.Enabled ? string.Empty : "  DISABLED (not trusted)")}"));
            }

            return 0;
        }, ct));
        var issuer = new Option<string>("--issuer") { Required = true };
        var tenant = new Option<string>("--tenant") { Required = true };
        var metadata = new Option<string?>("--metadata-url");
        var jwksUrl = new Option<string?>("--jwks-url");
        var jwksFile = new Option<string?>("--jwks-file") { Description = "A file holding the issuer's JWKS (inline keys)." };
        var algs = new Option<string[]>("--alg") { AllowMultipleArgumentsPerToken = true, Description = "Accepted algorithms (default ES256 RS256 PS256)." };
        var clientIds = new Option<string[]>("--client") { AllowMultipleArgumentsPerToken = true, Description = "Only these clients may redeem this issuer's ID-JAGs." };
        var noJit = new Option<bool>("--no-jit") { Description = "Do not create accounts on first use." };
        var issuerTenant = new Option<string?>("--issuer-tenant") { Description = "For an IdP serving several organizations from one issuer: the IdP tenant whose users to accept (the ID-JAG's tenant claim must equal it)." };
        var issuerAdd = new Command("add", "Trust an IdP.") { issuer, tenant, metadata, jwksUrl, jwksFile, algs, clientIds, noJit, issuerTenant, By, Remote };
        issuerAdd.SetAction(async (p, ct) =>
        {
            string? inline = null;
            if (p.GetValue(jwksFile) is { } file)
            {
                try
                {
                    inline = await File.ReadAllTextAsync(file, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    return Fail($"Cannot read {file}: {ex.Message}");
                }
            }

            var input = new TrustIssuerInput(p.GetValue(issuer)!, p.GetValue(tenant)!, p.GetValue(metadata), p.GetValue(jwksUrl), inline, p.GetValue(algs), p.GetValue(clientIds), !p.GetValue(noJit), p.GetValue(issuerTenant));
            return await AsChanged(p, ct, (ops, by) => ops.TrustIssuerAsync(by, input, ct), "POST", "/issuers", input).ConfigureAwait(false);
        });
        issuers.Subcommands.Add(issuerList);
        issuers.Subcommands.Add(issuerAdd);
        foreach (var enable in new[] { false, true })
        {
            // Distrust keeps the issuer's accounts (a later "enable" finds them again); access tokens already issued
            // stay valid until they expire (AccessTokenLifetime): the AS keeps no per-token state to revoke them by.
            var target = new Option<string>("--issuer") { Required = true };
            var command = new Command(enable ? "enable" : "disable", enable ? "Trust an issuer's ID-JAGs again." : "Stop trusting an issuer's ID-JAGs (running servers: within Ema:AuthorizationServer:IssuerRefreshInterval, 30 s).") { target, By, Remote };
            command.SetAction((p, ct) => AsChanged(p, ct, (ops, by) => ops.SetIssuerEnabledAsync(by, p.GetValue(target)!, enable, ct), "POST", enable ? "/issuers/enable" : "/issuers/disable", new IssuerRequest(p.GetValue(target)!)));
            issuers.Subcommands.Add(command);
        }

        var tenantOf = new Option<string>("--issuer") { Required = true };
        var newTenant = new Option<string?>("--issuer-tenant") { Description = "The IdP tenant its ID-JAGs must carry; leave out to accept any." };
        var setTenant = new Command("set-tenant", "Set (or clear) the IdP tenant a trusted issuer's ID-JAGs must carry (ID-JAG section 6).") { tenantOf, newTenant, By, Remote };
        setTenant.SetAction((p, ct) => AsChanged(p, ct, (ops, by) => ops.SetIssuerTenantAsync(by, p.GetValue(tenantOf)!, p.GetValue(newTenant), ct), "POST", "/issuers/tenant", new IssuerTenantRequest(p.GetValue(tenantOf)!, p.GetValue(newTenant))));
        issuers.Subcommands.Add(setTenant);

        root.Subcommands.Add(issuers);

        var clients = new Command("clients", "Clients of the authorization server (confidential only, decision 14).");
        var clientList = new Command("list", "List clients.") { Remote };
        clientList.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAsync(p, "/as/clients", ct) : Run(p, async (s, o) =>
        {
            foreach (var c in await s.GetRequiredService<IAuthorizationServerStore>().ListClientsAsync(ct).ConfigureAwait(false))
            {
                o.WriteLine(TerminalText.Safe($"{c.ClientId,-20} {c.AuthenticationMethod,-20} {(c.Enabled ? "enabled" : "disabled"),-9}{(c.RequireDpop ? " dpop=required" : string.Empty)} {c.Name}"));
            }

            return 0;
        }, ct));
        var clientId = new Option<string>("--id") { Required = true };
        var clientName = new Option<string>("--name") { Required = true };
        var clientJwks = new Option<string?>("--jwks-file") { Description = "Register a private_key_jwt client with these public keys (a JWK Set) instead of a secret." };
        var clientRequireDpop = new Option<bool>("--require-dpop") { Description = "Redeem only key-bound ID-JAGs (cnf) for this client, with their DPoP proof." };
        var clientAdd = new Command("add", "Add a client; its secret is printed once (none with --jwks-file).") { clientId, clientName, clientJwks, clientRequireDpop, By, Remote };
        clientAdd.SetAction(async (p, ct) =>
        {
            if (ReadJwksFile(p.GetValue(clientJwks)) is var (jwks, readError) && readError is not null)
            {
                return Fail(readError);
            }

            return await AsChanged(p, ct, (ops, by) => ops.CreateClientAsync(by, p.GetValue(clientId)!, p.GetValue(clientName)!, jwks, p.GetValue(clientRequireDpop), ct), "POST", "/clients", new CreateAuthorizationServerClientRequest(p.GetValue(clientId)!, p.GetValue(clientName)!, jwks, p.GetValue(clientRequireDpop))).ConfigureAwait(false);
        });
        clients.Subcommands.Add(clientList);
        clients.Subcommands.Add(clientAdd);
        foreach (var enable in new[] { false, true })
        {
            var target = new Option<string>("--id") { Required = true };
            var command = new Command(enable ? "enable" : "disable", enable ? "Let a client redeem ID-JAGs again." : "Refuse a client's requests (invalid_client; running servers: within the store cache time, 10 s).") { target, By, Remote };
            command.SetAction((p, ct) => AsChanged(p, ct, (ops, by) => ops.SetClientEnabledAsync(by, p.GetValue(target)!, enable, ct), "POST", $"/clients/{E(p.GetValue(target)!)}/{(enable ? "enable" : "disable")}", null));
            clients.Subcommands.Add(command);
        }

        var rotated = new Option<string>("--id") { Required = true };
        var rotate = new Command("rotate-secret", "Give a client a new secret, printed once; the old one stops working (running servers: within 10 s).") { rotated, By, Remote };
        rotate.SetAction((p, ct) => AsChanged(p, ct, (ops, by) => ops.RotateClientSecretAsync(by, p.GetValue(rotated)!, ct), "POST", $"/clients/{E(p.GetValue(rotated)!)}/rotate-secret", null));
        clients.Subcommands.Add(rotate);
        var rekeyed = new Option<string>("--id") { Required = true };
        var rekeyFile = new Option<string>("--jwks-file") { Required = true, Description = "The client's new public keys (a JWK Set)." };
        var rekey = new Command("set-keys", "Replace a private_key_jwt client's public keys; assertions signed with the old ones stop working.") { rekeyed, rekeyFile, By, Remote };
        rekey.SetAction(async (p, ct) =>
        {
            var (jwks, readError) = ReadJwksFile(p.GetValue(rekeyFile));
            return readError is not null
                ? Fail(readError)
                : await AsChanged(p, ct, (ops, by) => ops.ReplaceClientKeysAsync(by, p.GetValue(rekeyed)!, jwks!, ct), "POST", $"/clients/{E(p.GetValue(rekeyed)!)}/keys", new ClientKeysRequest(jwks!)).ConfigureAwait(false);
        });
        clients.Subcommands.Add(rekey);
        var dpopClient = new Option<string>("--id") { Required = true };
        var dpopOff = new Option<bool>("--off") { Description = "No longer require DPoP." };
        var asRequireDpop = new Command("require-dpop", "Redeem only key-bound ID-JAGs (cnf) for this client, with their DPoP proof; --off to stop.") { dpopClient, dpopOff, By, Remote };
        asRequireDpop.SetAction((p, ct) => AsChanged(p, ct, (ops, by) => ops.SetClientRequireDpopAsync(by, p.GetValue(dpopClient)!, !p.GetValue(dpopOff), ct), "POST", $"/clients/{E(p.GetValue(dpopClient)!)}/require-dpop", new RequireDpopRequest(!p.GetValue(dpopOff))));
        clients.Subcommands.Add(asRequireDpop);
        root.Subcommands.Add(clients);

        var resources = new Command("resources", "MCP servers this authorization server issues tokens for.");
        var resourceList = new Command("list", "List resources.") { Remote };
        resourceList.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAsync(p, "/as/resources", ct) : Run(p, async (s, o) =>
        {
            foreach (var r in await s.GetRequiredService<IAuthorizationServerStore>().ListResourcesAsync(ct).ConfigureAwait(false))
            {
                o.WriteLine(TerminalText.Safe($"{r.Id,-16} {r.Name,-12} {r.Resource}  scopes: {string.Join(' ', r.Scopes.Select(x => x.Name))}"));
            }

            return 0;
        }, ct));
        var resourceId = new Option<string>("--id") { Required = true };
        var resourceName = new Option<string>("--name") { Required = true };
        var resource = new Option<string>("--resource") { Required = true };
        var scope = new Option<string[]>("--scope") { AllowMultipleArgumentsPerToken = true };
        var resourceAdd = new Command("add", "Add a resource.") { resourceId, resourceName, resource, scope, By, Remote };
        resourceAdd.SetAction((p, ct) => AsChanged(
            p, ct, (ops, by) => ops.CreateResourceAsync(by, p.GetValue(resourceId)!, p.GetValue(resourceName)!, p.GetValue(resource)!, p.GetValue(scope) ?? [], ct),
            "POST", "/resources", new CreateAuthorizationServerResourceRequest(p.GetValue(resourceId)!, p.GetValue(resourceName)!, p.GetValue(resource)!, p.GetValue(scope) ?? [])));
        var removed = new Option<string>("--id") { Required = true };
        var resourceRemove = new Command("remove", "Stop issuing tokens for a resource (tokens already issued stay valid until they expire).") { removed, By, Remote };
        resourceRemove.SetAction((p, ct) => AsChanged(p, ct, (ops, by) => ops.RemoveResourceAsync(by, p.GetValue(removed)!, ct), "DELETE", $"/resources/{E(p.GetValue(removed)!)}", null));
        resources.Subcommands.Add(resourceList);
        resources.Subcommands.Add(resourceAdd);
        resources.Subcommands.Add(resourceRemove);
        root.Subcommands.Add(resources);
        return root;
    }

    // A change of the authorization server's settings: on the data folder through AuthorizationServerOperations (one
    // audit record naming --by), or with --remote through the admin API's /as/… (the signed-in admin is audited).
    private static Task<int> AsChanged(ParseResult parse, CancellationToken cancellationToken, Func<AuthorizationServerOperations, ConsoleUser, Task<AdminResult>> local, string verb, string path, object? body) =>
        parse.GetValue(Remote)
            ? AdminRemoteCommands.ChangeAsync(parse, verb, "/as" + path, body, cancellationToken)
            : Run(parse, async (s, o) => Report(o, await local(s.GetRequiredService<AuthorizationServerOperations>(), CliUser(parse.GetValue(By)!)).ConfigureAwait(false), null), cancellationToken);

    private static Command Sessions()
    {
        var sessions = new Command("sessions", "Users' sign-in sessions at the IdP.");
        var user = new Option<string?>("--user") { Description = "Only this username's sessions." };
        var list = new Command("list", "Live sessions, newest first.") { user, Remote };
        list.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAsync(p, p.GetValue(user) is { } name ? $"/sessions?user={E(name)}" : "/sessions", ct) : Run(p, async (s, o) =>
        {
            string? userId = null;
            if (p.GetValue(user) is { } name)
            {
                userId = (await s.GetRequiredService<IDirectoryStore>().FindUserByUsernameAsync(name, ct).ConfigureAwait(false))?.Id;
                if (userId is null)
                {
                    return Fail("no such user.");
                }
            }

            foreach (var session in await s.GetRequiredService<IGrantStore>().ListSessionsAsync(userId, ct).ConfigureAwait(false))
            {
                o.WriteLine($"{session.Id,-24} {session.UserId,-16} signed in {session.AuthTime:yyyy-MM-dd HH:mm:ss} ({string.Join('+', session.Amr)})  until {session.ExpiresAt:yyyy-MM-dd HH:mm}");
            }

            return 0;
        }, ct));
        var id = new Option<string>("--id") { Required = true, Description = "The session id (sid)." };
        var revoke = new Command("revoke", "End a session and every refresh token issued in it (servers notice within their cache time, 10 s).") { id, By, Remote };
        revoke.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.RevokeSessionAsync(by, p.GetValue(id)!, ct), "DELETE", $"/sessions/{E(p.GetValue(id)!)}", null));
        sessions.Subcommands.Add(list);
        sessions.Subcommands.Add(revoke);
        return sessions;
    }

    private static Command Users()
    {
        var users = new Command("users", "Directory users.");
        var mfaUser = new Option<string>("--user") { Required = true, Description = "Username." };
        var enroll = new Command("mfa-enroll", "Enroll (or re-enroll) a TOTP authenticator (RFC 6238); prints the secret once.") { mfaUser, By, Remote };
        enroll.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ChangeAsync(p, "POST", $"/users/{E(p.GetValue(mfaUser)!)}/mfa-enroll", null, ct) : Run(p, async (s, o) =>
        {
            var login = await UsernameAsync(s, p.GetValue(mfaUser)!, ct).ConfigureAwait(false);
            var result = await s.GetRequiredService<AdminOperations>().EnrolMfaAsync(CliUser(p.GetValue(By)!), login, ct).ConfigureAwait(false);
            if (!result.Succeeded || result.OneTimeSecret is not { } base32)
            {
                return Fail(result.Message);
            }

            o.WriteLine($"Enrolled {login}. Add this to the authenticator app now (it is not shown again):");
            o.WriteLine($"  secret: {base32}");
            o.WriteLine($"  {Totp.OtpAuthUri(login, base32)}");
            return 0;
        }, ct));
        users.Subcommands.Add(enroll);
        var list = new Command("list", "List users.") { Remote };
        list.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAllAsync(p, "/users", "username", ct) : Run(p, async (s, o) =>
        {
            foreach (var u in await s.GetRequiredService<IDirectoryStore>().ListUsersAsync(ct).ConfigureAwait(false))
            {
                o.WriteLine($"{u.Id,-20} {u.Username,-16} {u.Status,-9} {u.DisplayName} <{u.Email}>");
            }

            return 0;
        }, ct));
        users.Subcommands.Add(list);

        // Every change below goes through AdminOperations, as the console's: same checks, one audit record naming --by.
        var username = new Option<string>("--username") { Required = true };
        var name = new Option<string?>("--name");
        var email = new Option<string?>("--email");
        var department = new Option<string?>("--department") { Description = "Department (for policy conditions)." };
        var group = new Option<string[]>("--group") { Description = "Group id to join (repeatable).", AllowMultipleArgumentsPerToken = true };
        var add = new Command("add", "Add a user; a random first password is generated and printed once.") { username, name, email, department, group, By, Remote };
        add.SetAction((p, ct) => p.GetValue(Remote) ? AddUserRemotelyAsync(p, p.GetValue(username)!, p.GetValue(name), p.GetValue(email), p.GetValue(department), p.GetValue(group) ?? [], ct) : Run(p, async (s, o) =>
        {
            var login = p.GetValue(username)!;
            var created = await Change(s, o, p, (ops, by) => ops.CreateUserAsync(by, login, p.GetValue(name) ?? login, p.GetValue(email), p.GetValue(department), ct)).ConfigureAwait(false);
            foreach (var g in created == 0 ? p.GetValue(group) ?? [] : [])
            {
                if (await Change(s, o, p, (ops, by) => ops.AddGroupMemberAsync(by, g, login, ct)).ConfigureAwait(false) != 0)
                {
                    return 1; // the user exists; the refusal said which group was not joined
                }
            }

            return created;
        }, ct));
        users.Subcommands.Add(add);

        var userArgument = new Argument<string>("user") { Description = "Username (or user id)." };
        users.Subcommands.Add(UserStatusCommand("disable", "Disable a user (sign-in and token exchange are refused).", userArgument, UserStatus.Disabled));
        users.Subcommands.Add(UserStatusCommand("enable", "Enable a disabled user again.", userArgument, UserStatus.Active));

        // Through AdminOperations, as the console does: same checks, same one audit record (naming --by).
        var who = new Argument<string>("username");
        var roleName = new Argument<string>("role");
        var role = new Command("role", "Give or take a directory role (for example admin).");
        var roleAdd = new Command("add", "Give a role.") { who, roleName, By, Remote };
        roleAdd.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.AddRoleAsync(by, p.GetValue(who)!, p.GetValue(roleName)!, ct), "POST", $"/users/{E(p.GetValue(who)!)}/roles", new RoleRequest(p.GetValue(roleName)!)));
        var roleRemove = new Command("remove", "Take a role away.") { who, roleName, By, Remote };
        roleRemove.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.RemoveRoleAsync(by, p.GetValue(who)!, p.GetValue(roleName)!, ct), "DELETE", $"/users/{E(p.GetValue(who)!)}/roles/{E(p.GetValue(roleName)!)}", null));
        role.Subcommands.Add(roleAdd);
        role.Subcommands.Add(roleRemove);
        users.Subcommands.Add(role);

        var unlock = new Command("unlock", "Helpdesk: clear the user's failed sign-ins and one-time codes and end their lockout.") { who, By, Remote };
        unlock.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.UnlockUserAsync(by, p.GetValue(who)!, ct), "POST", $"/users/{E(p.GetValue(who)!)}/unlock", null));
        users.Subcommands.Add(unlock);

        var reset = new Command("mfa-reset", "Lost device: remove the user's authenticator and end their sessions.") { who, By, Remote };
        reset.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.ResetMfaAsync(by, p.GetValue(who)!, ct), "POST", $"/users/{E(p.GetValue(who)!)}/mfa-reset", null));
        users.Subcommands.Add(reset);
        return users;
    }

    private static Command Groups()
    {
        var groups = new Command("groups", "Directory groups.");
        var list = new Command("list", "List groups.") { Remote };
        list.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAsync(p, "/groups", ct) : Run(p, async (s, o) =>
        {
            foreach (var g in await s.GetRequiredService<IDirectoryStore>().ListGroupsAsync(ct).ConfigureAwait(false))
            {
                o.WriteLine($"{g.Id,-20} {g.Name,-16} {g.Description}");
            }

            return 0;
        }, ct));
        groups.Subcommands.Add(list);

        var id = new Option<string>("--id") { Required = true };
        var name = new Option<string>("--name") { Required = true };
        var description = new Option<string?>("--description");
        var add = new Command("add", "Add a group.") { id, name, description, By, Remote };
        add.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.CreateGroupAsync(by, p.GetValue(id)!, p.GetValue(name)!, p.GetValue(description), ct), "POST", "/groups", new CreateGroupRequest(p.GetValue(id)!, p.GetValue(name)!, p.GetValue(description))));
        groups.Subcommands.Add(add);

        var group = new Argument<string>("group-id");
        var user = new Argument<string>("user") { Description = "Username (or user id)." };
        var member = new Command("add-member", "Add a user to a group.") { group, user, By, Remote };
        member.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ChangeAsync(p, "POST", $"/groups/{E(p.GetValue(group)!)}/members", new UsernameRequest(p.GetValue(user)!), ct) : Run(p, async (s, o) =>
        {
            var login = await UsernameAsync(s, p.GetValue(user)!, ct).ConfigureAwait(false);
            return await Change(s, o, p, (ops, by) => ops.AddGroupMemberAsync(by, p.GetValue(group)!, login, ct)).ConfigureAwait(false);
        }, ct));
        groups.Subcommands.Add(member);

        var memberName = new Argument<string>("username");
        var removeMember = new Command("remove-member", "Remove a user from a group.") { group, memberName, By, Remote };
        removeMember.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.RemoveGroupMemberAsync(by, p.GetValue(group)!, p.GetValue(memberName)!, ct), "DELETE", $"/groups/{E(p.GetValue(group)!)}/members/{E(p.GetValue(memberName)!)}", null));
        groups.Subcommands.Add(removeMember);
        return groups;
    }

    private static Command Clients()
    {
        var clients = new Command("clients", "Client applications (MCP clients).");
        var list = new Command("list", "List clients.") { Remote };
        list.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAsync(p, "/clients", ct) : Run(p, async (s, o) =>
        {
            foreach (var c in await s.GetRequiredService<IApplicationStore>().ListClientsAsync(ct).ConfigureAwait(false))
            {
                o.WriteLine(TerminalText.Safe($"{c.ClientId,-20} {c.AuthenticationMethod,-20} {(c.Enabled ? "enabled" : "disabled"),-9} token-exchange={(c.TokenExchangeAllowed ? "yes" : "no")}{(c.RequireDpop ? " dpop=required" : string.Empty)} {c.Name}"));
            }

            return 0;
        }, ct));
        clients.Subcommands.Add(list);

        var id = new Option<string>("--id") { Required = true };
        var name = new Option<string>("--name") { Required = true };
        var redirect = new Option<string[]>("--redirect-uri") { AllowMultipleArgumentsPerToken = true };
        var auth = new Option<string>("--auth") { DefaultValueFactory = _ => ClientAuthenticationMethods.ClientSecretBasic, Description = "client_secret_basic, client_secret_post, private_key_jwt (with --jwks-file) or none." };
        var exchange = new Option<bool>("--token-exchange") { Description = "Allow token exchange (ID-JAG issuance)." };
        var jwksFile = new Option<string?>("--jwks-file") { Description = "private_key_jwt: a file with the client's public keys (a JWK Set)." };
        var requireDpop = new Option<bool>("--require-dpop") { Description = "Key-bound ID-JAGs only: its token exchanges need a DPoP proof (RFC 9449)." };
        var add = new Command("add", "Add a client; a confidential client's secret is printed once.") { id, name, redirect, auth, exchange, jwksFile, requireDpop, By, Remote };
        add.SetAction(async (p, ct) =>
        {
            if (ReadJwksFile(p.GetValue(jwksFile)) is var (jwks, readError) && readError is not null)
            {
                return Fail(readError);
            }

            return await Changed(p, ct, (ops, by) => ops.CreateClientAsync(by, p.GetValue(id)!, p.GetValue(name)!, p.GetValue(redirect) ?? [], p.GetValue(auth)!, p.GetValue(exchange), jwks, p.GetValue(requireDpop), ct), "POST", "/clients", new CreateClientRequest(p.GetValue(id)!, p.GetValue(name)!, p.GetValue(redirect) ?? [], p.GetValue(auth), p.GetValue(exchange), jwks, p.GetValue(requireDpop))).ConfigureAwait(false);
        });
        clients.Subcommands.Add(add);

        var clientId = new Argument<string>("client-id");
        var disable = new Command("disable", "Disable a client.") { clientId, By, Remote };
        disable.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.SetClientEnabledAsync(by, p.GetValue(clientId)!, enabled: false, ct), "POST", $"/clients/{E(p.GetValue(clientId)!)}/disable", null));
        clients.Subcommands.Add(disable);
        var enable = new Command("enable", "Enable a disabled client again.") { clientId, By, Remote };
        enable.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.SetClientEnabledAsync(by, p.GetValue(clientId)!, enabled: true, ct), "POST", $"/clients/{E(p.GetValue(clientId)!)}/enable", null));
        clients.Subcommands.Add(enable);

        var rotate = new Command("rotate-secret", "Replace a confidential client's secret; the new one is printed once and the old one stops working.") { clientId, By, Remote };
        rotate.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.RotateClientSecretAsync(by, p.GetValue(clientId)!, ct), "POST", $"/clients/{E(p.GetValue(clientId)!)}/rotate-secret", null));
        clients.Subcommands.Add(rotate);
        var keysFile = new Option<string>("--jwks-file") { Required = true, Description = "The client's new public keys (a JWK Set)." };
        var setKeys = new Command("set-keys", "Replace a private_key_jwt client's public keys; assertions signed with the old ones stop working.") { clientId, keysFile, By, Remote };
        setKeys.SetAction(async (p, ct) =>
        {
            var (jwks, readError) = ReadJwksFile(p.GetValue(keysFile));
            return readError is not null
                ? Fail(readError)
                : await Changed(p, ct, (ops, by) => ops.ReplaceClientKeysAsync(by, p.GetValue(clientId)!, jwks!, ct), "POST", $"/clients/{E(p.GetValue(clientId)!)}/keys", new ClientKeysRequest(jwks!)).ConfigureAwait(false);
        });
        clients.Subcommands.Add(setKeys);
        var off = new Option<bool>("--off") { Description = "No longer require DPoP." };
        var requireDpopCommand = new Command("require-dpop", "Require a DPoP proof at this client's token exchanges (its ID-JAGs always key-bound); --off to stop.") { clientId, off, By, Remote };
        requireDpopCommand.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.SetClientRequireDpopAsync(by, p.GetValue(clientId)!, !p.GetValue(off), ct), "POST", $"/clients/{E(p.GetValue(clientId)!)}/require-dpop", new RequireDpopRequest(!p.GetValue(off))));
        clients.Subcommands.Add(requireDpopCommand);

        var resource = new Argument<string>("resource-id");
        var remoteId = new Argument<string>("client-id-at-resource");
        var map = new Command("map", "Set the client's id at a resource's authorization server (the ID-JAG client_id).") { clientId, resource, remoteId, By, Remote };
        map.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.MapClientIdAsync(by, p.GetValue(clientId)!, p.GetValue(resource)!, p.GetValue(remoteId)!, ct), "PUT", $"/clients/{E(p.GetValue(clientId)!)}/mappings/{E(p.GetValue(resource)!)}", new ClientMappingRequest(p.GetValue(remoteId)!)));
        clients.Subcommands.Add(map);
        return clients;
    }

    private static Command Resources()
    {
        var resources = new Command("resources", "Resource applications (MCP servers).");
        var list = new Command("list", "List resources.") { Remote };
        list.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAsync(p, "/resources", ct) : Run(p, async (s, o) =>
        {
            foreach (var r in await s.GetRequiredService<IApplicationStore>().ListResourcesAsync(ct).ConfigureAwait(false))
            {
                o.WriteLine($"{r.Id,-16} {r.DisplayName,-12} {r.Resource}  (AS {r.AuthorizationServerIssuer})  scopes: {string.Join(' ', r.Scopes.Select(x => $"{x.Name}[{x.Risk.ToString().ToLowerInvariant()}]"))}");
            }

            return 0;
        }, ct));
        resources.Subcommands.Add(list);

        var id = new Option<string>("--id") { Required = true };
        var name = new Option<string>("--name") { Required = true };
        var resource = new Option<string>("--resource") { Required = true, Description = "The MCP server's RFC 9728 resource identifier." };
        var issuer = new Option<string>("--issuer") { Required = true, Description = "Issuer of its authorization server." };
        var scope = new Option<string[]>("--scope") { AllowMultipleArgumentsPerToken = true, Description = "name or name:low|medium|high (repeatable)." };
        var add = new Command("add", "Add a resource.") { id, name, resource, issuer, scope, By, Remote };
        add.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.CreateResourceAsync(by, p.GetValue(id)!, p.GetValue(name)!, p.GetValue(resource)!, p.GetValue(issuer)!, string.Join('\n', p.GetValue(scope) ?? []), ct), "POST", "/resources", new CreateResourceRequest(p.GetValue(id)!, p.GetValue(name)!, p.GetValue(resource)!, p.GetValue(issuer)!, string.Join('\n', p.GetValue(scope) ?? []))));
        resources.Subcommands.Add(add);
        return resources;
    }

    private static Command Entitlements()
    {
        var entitlements = new Command("entitlements", "Who may use which client with which resource and scopes.");
        var list = new Command("list", "List entitlements.") { Remote };
        list.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ListAsync(p, "/entitlements", ct) : Run(p, async (s, o) =>
        {
            foreach (var e in await s.GetRequiredService<IEntitlementStore>().ListAsync(ct).ConfigureAwait(false))
            {
                o.WriteLine($"{e.Id,-18} {e.SubjectType.ToString().ToLowerInvariant()} {e.SubjectId,-18} client {e.ClientId,-16} resource {e.ResourceId,-14} {string.Join(' ', e.Scopes)}");
            }

            return 0;
        }, ct));
        entitlements.Subcommands.Add(list);

        var group = new Option<string?>("--group");
        var user = new Option<string?>("--user");
        var client = new Option<string>("--client") { Required = true };
        var resource = new Option<string>("--resource") { Required = true, Description = "Resource id." };
        var scopes = new Option<string[]>("--scope") { Required = true, AllowMultipleArgumentsPerToken = true };
        var add = new Command("add", "Entitle a group or user.") { group, user, client, resource, scopes, By, Remote };
        add.SetAction((p, ct) => Changed(p, ct, (ops, by) => ops.CreateEntitlementAsync(by, p.GetValue(group), p.GetValue(user), p.GetValue(client)!, p.GetValue(resource)!, p.GetValue(scopes) ?? [], ct), "POST", "/entitlements", new CreateEntitlementRequest(p.GetValue(group), p.GetValue(user), p.GetValue(client)!, p.GetValue(resource)!, p.GetValue(scopes) ?? [])));
        entitlements.Subcommands.Add(add);
        return entitlements;
    }

    // --remote: through the admin API of the IdP signed in to with `ema admin login` (the signed-in admin is audited,
    // not --by) instead of the data folder. Only on the commands the API offers.
    private static readonly Option<bool> Remote = new("--remote") { Description = "Through the admin API of the IdP you signed in to with ema admin login (you are audited, not --by), instead of the data folder." };

    /// <summary>A change: through <see cref="AdminOperations"/> on the data folder, or the same change through the admin API.</summary>
    private static Task<int> Changed(ParseResult parse, CancellationToken cancellationToken, Func<AdminOperations, ConsoleUser, Task<AdminResult>> local, string verb, string path, object? body) =>
        parse.GetValue(Remote) ? AdminRemoteCommands.ChangeAsync(parse, verb, path, body, cancellationToken) : Run(parse, (s, o) => Change(s, o, parse, local), cancellationToken);

    private static async Task<int> AddUserRemotelyAsync(ParseResult parse, string username, string? name, string? email, string? department, string[] groups, CancellationToken cancellationToken)
    {
        var created = await AdminRemoteCommands.ChangeAsync(parse, "POST", "/users", new CreateUserRequest(username, name ?? username, email, department), cancellationToken).ConfigureAwait(false);
        foreach (var g in created == 0 ? groups : [])
        {
            if (await AdminRemoteCommands.ChangeAsync(parse, "POST", $"/groups/{E(g)}/members", new UsernameRequest(username), cancellationToken).ConfigureAwait(false) != 0)
            {
                return 1; // the user exists; the refusal said which group was not joined
            }
        }

        return created;
    }

    private static Command UserStatusCommand(string name, string description, Argument<string> userArgument, UserStatus status)
    {
        var command = new Command(name, description) { userArgument, By, Remote };
        command.SetAction((p, ct) => p.GetValue(Remote) ? AdminRemoteCommands.ChangeAsync(p, "POST", $"/users/{E(p.GetValue(userArgument)!)}/{name}", null, ct) : Run(p, async (s, o) =>
        {
            var login = await UsernameAsync(s, p.GetValue(userArgument)!, ct).ConfigureAwait(false);
            return await Change(s, o, p, (ops, by) => ops.SetUserStatusAsync(by, login, status, ct)).ConfigureAwait(false);
        }, ct));
        return command;
    }

    // One path segment of an admin API URL.
    private static string E(string segment) => Uri.EscapeDataString(segment);

    // Who makes a change (recorded in the audit trail); by default the account running the command.
    private static readonly Option<string> By = new("--by") { Description = "Who makes the change (recorded in the audit trail; default: the OS user).", DefaultValueFactory = _ => Environment.UserName };

    /// <summary>
    /// Runs one change through <see cref="AdminOperations"/> — the console's change layer: same checks, one audit
    /// record naming <paramref name="by"/> — and prints its outcome (policy errors as <c>source:line: message</c>).
    /// </summary>
    internal static async Task<int> ChangeAsync(IServiceProvider services, TextWriter output, string by, Func<AdminOperations, ConsoleUser, Task<AdminResult>> change, string? errorSource = null)
    {
        var result = await change(services.GetRequiredService<AdminOperations>(), CliUser(by)).ConfigureAwait(false);
        return Report(output, result, errorSource);
    }

    private static int Report(TextWriter output, AdminResult result, string? errorSource)
    {
        foreach (var error in result.PolicyErrors ?? [])
        {
            Console.Error.WriteLine(TerminalText.Safe($"{errorSource ?? "policy"}:{error.Line}: {error.Message}"));
        }

        if (!result.Succeeded)
        {
            return Fail(result.Message);
        }

        output.WriteLine(TerminalText.Safe(result.Message));
        if (result.OneTimeSecret is { } secret)
        {
            output.WriteLine($"Secret (shown once, store it now): {secret}");
        }

        foreach (var warning in result.PolicyWarnings)
        {
            Console.Error.WriteLine(TerminalText.Safe($"{errorSource ?? "policy"}:{warning.Line}: warning: {warning.Message}"));
        }

        return 0;
    }

    // Changes from a shell on the data folder: the audit names "cli:" and who --by says (the OS user by default).
    private static ConsoleUser CliUser(string by) => new("cli:" + by, by, by, [], TimeProvider.System.GetUtcNow(), [], null);

    /// <summary>The username of <paramref name="user"/> when it is a user id; otherwise <paramref name="user"/> itself.</summary>
    private static async Task<string> UsernameAsync(IServiceProvider services, string user, CancellationToken cancellationToken) =>
        (await services.GetRequiredService<IDirectoryStore>().FindUserAsync(user, cancellationToken).ConfigureAwait(false))?.Username ?? user;

    private static Task<int> Change(IServiceProvider services, TextWriter output, ParseResult parse, Func<AdminOperations, ConsoleUser, Task<AdminResult>> change) =>
        ChangeAsync(services, output, parse.GetValue(By)!, change);

    private static Task<int> Run(ParseResult parse, Func<IServiceProvider, TextWriter, Task<int>> action, CancellationToken cancellationToken) =>
        RunWithStorage(parse.GetValue(Data), action, cancellationToken);

    /// <summary>Whether the data folder (default or <paramref name="dataDirectory"/>) has a database — without creating one.</summary>
    internal static bool HasDatabase(string? dataDirectory) =>
        File.Exists(Path.Combine(new EmaHostOptions { DataDirectory = dataDirectory ?? string.Empty }.ResolveDataDirectory(), "ema.db"));

    /// <summary>The data folder's database path and its key ring alone (no start-up tasks run): for <c>ema audit reseal</c>.</summary>
    internal static (string DatabasePath, ServiceProvider Services) KeyProtectorOnly(string? dataDirectory)
    {
        var (folder, services) = DataFolderServices(dataDirectory);
        return (Path.Combine(folder, "ema.db"), services.BuildServiceProvider());
    }

    /// <summary>Opens the data folder's database (migrated), runs <paramref name="action"/>, closes it.</summary>
    internal static async Task<int> RunWithStorage(string? dataDirectory, Func<IServiceProvider, TextWriter, Task<int>> action, CancellationToken cancellationToken, AuditSealUse sealUse = AuditSealUse.Write)
    {
        var (folder, collection) = DataFolderServices(dataDirectory);
        var services = collection
            .AddSingleton(new PasswordHasher())
            .AddEmaSqliteStorage(Path.Combine(folder, "ema.db"), sealUse)
            .AddSingleton<SigningKeyManager>()
            .AddSingleton<AdminOperations>() // the console's change layer (options at their defaults)
            .AddSingleton<AuthorizationServerOperations>()
            .BuildServiceProvider();
        await using (services.ConfigureAwait(false))
        {
            foreach (var task in services.GetServices<IStartupTask>().OrderBy(t => t.Order))
            {
                await task.RunAsync(cancellationToken).ConfigureAwait(false);
            }

            return await action(services, Console.Out).ConfigureAwait(false);
        }
    }

    // The data folder from --data, and its key ring — the one that encrypts keys and TOTP secrets — with key encryption as
    // the service has it, from the environment (Ema__KeyEncryption…).
    private static (string Folder, IServiceCollection Services) DataFolderServices(string? dataDirectory)
    {
        var settings = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddEnvironmentVariables().Build().GetSection("Ema").Get<EmaHostOptions>() ?? new EmaHostOptions();
        settings.DataDirectory = dataDirectory ?? string.Empty;
        var folder = settings.ResolveDataDirectory();
        return (folder, new ServiceCollection().AddLogging().AddEmaAspNetCore(Path.Combine(folder, "dataprotection-keys"), settings.LoadKeyEncryptionCertificate()));
    }

    private static int Ok(TextWriter output, string message)
    {
        output.WriteLine(message);
        return 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("ema admin: " + TerminalText.Safe(message));
        return 1;
    }

    // A --jwks-file's text, or the reason it cannot be read (the admin layer checks what it holds).
    private static (string? Jwks, string? Error) ReadJwksFile(string? path)
    {
        if (path is null)
        {
            return (null, null);
        }

        try
        {
            return (File.ReadAllText(path), null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, $"Cannot read {path}: {ex.Message}");
        }
    }
}
