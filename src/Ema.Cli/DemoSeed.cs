using System.Text.Json;
using Ema.Protocol;
using Ema.Server;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;

namespace Ema.Cli;

/// <summary>
/// <c>--seed demo</c>: a small organization (three users in three groups, two clients, the three sample MCP servers,
/// entitlements giving each group a different set of servers and scopes). Idempotent. Generated passwords and the
/// client secret are written once to <c>demo-credentials.json</c> (file mode 600) and never logged.
/// </summary>
public sealed class DemoSeed(IServiceProvider services, string baseUrl, string dataDirectory) : IStartupTask
{
    public const string AgentClientId = "ema-agent";
    public const string PublicClientId = "desktop-public";
    public const string CredentialsFile = "demo-credentials.json";

    public int Order => 200;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var directory = services.GetRequiredService<IDirectoryStore>();
        var applications = services.GetRequiredService<IApplicationStore>();
        var entitlements = services.GetRequiredService<IEntitlementStore>();
        var hasher = services.GetRequiredService<PasswordHasher>();
        if (await directory.FindUserByUsernameAsync("alice", cancellationToken).ConfigureAwait(false) is not null)
        {
            return; // already seeded
        }

        var credentials = new DemoCredentials { Users = [] };
        foreach (var group in new[] { new Group("grp-engineering", "engineering", "Product engineering"), new Group("grp-finance", "finance", "Finance team"), new Group("grp-contractors", "contractors", "External contractors") })
        {
            await directory.CreateGroupAsync(group, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (id, username, name, group, department) in new[] { ("usr-alice", "alice", "Alice Adams", "grp-engineering", "Engineering"), ("usr-bob", "bob", "Bob Brown", "grp-finance", "Finance"), ("usr-carol", "carol", "Carol Chen", "grp-contractors", "External") })
        {
            var password = SecretHasher.NewSecret()[..16];
            await directory.CreateUserAsync(new User(id, username, name, $"{username}@acme.example", UserStatus.Active, department), hasher.Hash(password), cancellationToken).ConfigureAwait(false);
            await directory.AddGroupMemberAsync(group, id, cancellationToken).ConfigureAwait(false);
            credentials.Users.Add(new DemoUser { Username = username, Password = password, Group = group });
        }

        await directory.AddRoleAsync("usr-alice", "admin", cancellationToken).ConfigureAwait(false);

        // Admins are not offered self-enrolment on the sign-in page (whoever knew the password first would own the
        // factor), so the demo admin gets her authenticator here, its key written once to the credentials file.
        if (services.GetService<Ema.Server.Security.IMfaStore>() is { } mfa && services.GetService<IKeyProtector>() is { } protector)
        {
            credentials.Users.Single(u => u.Username == "alice").TotpSecret = await mfa.EnrolNewAsync(protector, "usr-alice", cancellationToken).ConfigureAwait(false);
        }

        var secret = SecretHasher.NewSecret();
        credentials.ClientId = AgentClientId;
        credentials.ClientSecret = secret;
        await applications.CreateClientAsync(
            new ClientApplication
            {
                ClientId = AgentClientId,
                Name = "Ema Agent",
                RedirectUris = ["http://127.0.0.1/callback", "http://localhost/callback"],
                PostLogoutRedirectUris = ["http://127.0.0.1/signed-out"],
                AuthenticationMethod = ClientAuthenticationMethods.ClientSecretBasic,
                SecretHash = SecretHasher.Hash(secret),
                GrantTypes = [GrantTypes.AuthorizationCode, GrantTypes.RefreshToken, GrantTypes.TokenExchange, GrantTypes.DeviceCode],
                TokenExchangeAllowed = true,
            },
            cancellationToken).ConfigureAwait(false);
        await applications.CreateClientAsync(
            new ClientApplication
            {
                ClientId = PublicClientId,
                Name = "Desktop (public client)",
                RedirectUris = ["http://127.0.0.1/callback"],
                AuthenticationMethod = ClientAuthenticationMethods.None,
                GrantTypes = [GrantTypes.AuthorizationCode, GrantTypes.RefreshToken, GrantTypes.TokenExchange],
                TokenExchangeAllowed = true,
                PublicTokenExchangeAllowed = false,
            },
            cancellationToken).ConfigureAwait(false);

        var asIssuer = baseUrl + "/as";
        var resources = new[]
        {
            new ResourceApplication { Id = "res-tickets", DisplayName = "Tickets", Resource = baseUrl + "/mcp/tickets", AuthorizationServerIssuer = asIssuer, Scopes = [new("tickets.read", ScopeRisk.Low, "Read tickets"), new("tickets.write", ScopeRisk.Medium, "Create and update tickets")] },
            new ResourceApplication { Id = "res-wiki", DisplayName = "Wiki", Resource = baseUrl + "/mcp/wiki", AuthorizationServerIssuer = asIssuer, Scopes = [new("wiki.read", ScopeRisk.Low, "Read documents")] },
            new ResourceApplication { Id = "res-ledger", DisplayName = "Ledger", Resource = baseUrl + "/mcp/ledger", AuthorizationServerIssuer = asIssuer, Scopes = [new("ledger.read", ScopeRisk.Low, "Read the ledger"), new("ledger.write", ScopeRisk.High, "Post journal entries")] },
        };
        foreach (var resource in resources)
        {
            await applications.CreateResourceAsync(resource, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (id, group, resource, scopes) in new[]
        {
            ("ent-eng-tickets", "grp-engineering", "res-tickets", new[] { "tickets.read", "tickets.write" }),
            ("ent-eng-wiki", "grp-engineering", "res-wiki", new[] { "wiki.read" }),
            ("ent-fin-ledger", "grp-finance", "res-ledger", new[] { "ledger.read", "ledger.write" }),
            ("ent-fin-wiki", "grp-finance", "res-wiki", new[] { "wiki.read" }),
            ("ent-con-tickets", "grp-contractors", "res-tickets", new[] { "tickets.read" }),
        })
        {
            await entitlements.CreateAsync(new Entitlement(id, EntitlementSubjectType.Group, group, AgentClientId, resource, scopes), cancellationToken).ConfigureAwait(false);
        }

        // The authorization server side: the demo IdP is the trusted issuer of tenant "acme"; the agent has its own
        // credentials there; the three sample MCP servers are its resources.
        var authorizationServer = services.GetService<IAuthorizationServerStore>();
        if (authorizationServer is not null)
        {
            await authorizationServer.CreateTenantAsync(new Tenant("tenant-acme", "Acme Corp"), cancellationToken).ConfigureAwait(false);
            await authorizationServer.CreateTrustedIssuerAsync(new TrustedIssuerRegistration { Issuer = baseUrl + "/idp", TenantId = "tenant-acme", MetadataUri = baseUrl + "/idp/.well-known/openid-configuration" }, cancellationToken).ConfigureAwait(false);
            var asSecret = SecretHasher.NewSecret();
            credentials.AuthorizationServerClientSecret = asSecret;
            await authorizationServer.CreateClientAsync(new ClientApplication { ClientId = AgentClientId, Name = "Ema Agent", AuthenticationMethod = ClientAuthenticationMethods.ClientSecretBasic, SecretHash = SecretHasher.Hash(asSecret) }, cancellationToken).ConfigureAwait(false);
            foreach (var resource in resources)
            {
                await authorizationServer.CreateResourceAsync(new ProtectedResource { Id = resource.Id, Name = resource.DisplayName, Resource = resource.Resource, Scopes = resource.Scopes }, cancellationToken).ConfigureAwait(false);
            }
        }

        var path = Path.Combine(dataDirectory, CredentialsFile);
        await using var stream = PrivateFile.Create(path);
        await JsonSerializer.SerializeAsync(stream, credentials, DemoJson.Default.DemoCredentials, cancellationToken).ConfigureAwait(false);
    }
}

public sealed class DemoCredentials
{
    public string ClientId { get; set; } = string.Empty;

    public string ClientSecret { get; set; } = string.Empty;

    /// <summary>The agent's secret at the demo authorization server (a different credential from the IdP's).</summary>
    public string AuthorizationServerClientSecret { get; set; } = string.Empty;

    public List<DemoUser> Users { get; set; } = [];
}

public sealed class DemoUser
{
    public string Username { get; set; } = string.Empty;

    public string Password { get; set; } = string.Empty;

    public string Group { get; set; } = string.Empty;

    /// <summary>The admin's authenticator key (base32, RFC 6238): add it to an authenticator app to sign in to the console.</summary>
    public string? TotpSecret { get; set; }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(DemoCredentials))]
public sealed partial class DemoJson : System.Text.Json.Serialization.JsonSerializerContext;
