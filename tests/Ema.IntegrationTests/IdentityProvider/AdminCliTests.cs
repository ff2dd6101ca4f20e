using System.Security.Cryptography;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Ema.IntegrationTests.IdentityProvider;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}

/// <summary><c>ema admin</c> against a real SQLite data folder: secrets shown once, stored as hashes; readable errors.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class AdminCliTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "ema-cli-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(5)));

    private static async Task<(int Code, string Out, string Err)> EmaAsync(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            var code = await Ema.Cli.Program.Main(args);
            return (code, o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }

    [Fact]
    public async Task AdminCli_ChangesGoThroughTheConsoleOperations_AndAreAuditedWithWhoMadeThem()
    {
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "users", "add", "--username", "zed", "--by", "ops-team")).Code);
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "groups", "add", "--id", "grp-ops", "--name", "ops", "--by", "ops-team")).Code);
        var userId = (await EmaAsync("admin", "--data", _data, "users", "list")).Out.Split('\n').Single(l => l.Contains(" zed ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "groups", "add-member", "grp-ops", userId, "--by", "ops-team")).Code); // a user id works as well as a username

        var give = await EmaAsync("admin", "--data", _data, "users", "role", "add", "zed", "admin", "--by", "ops-team");
        Assert.True(give.Code == 0, give.Err);
        Assert.Contains("zed now has the role admin", give.Out, StringComparison.Ordinal);
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "users", "role", "remove", "zed", "admin", "--by", "ops-team")).Code);
        var again = await EmaAsync("admin", "--data", _data, "users", "role", "remove", "zed", "admin", "--by", "ops-team");
        Assert.Equal(1, again.Code);
        Assert.Contains("zed does not have the role admin", again.Err, StringComparison.Ordinal); // a readable refusal, nothing changed
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "groups", "remove-member", "grp-ops", "zed", "--by", "ops-team")).Code);

        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "clients", "add", "--id", "bot", "--name", "Bot", "--by", "ops-team")).Code);
        var disabled = await EmaAsync("admin", "--data", _data, "users", "disable", "zed", "--by", "ops-team");
        Assert.True(disabled.Code == 0, disabled.Err);
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "users", "enable", "zed", "--by", "ops-team")).Code);
        var rotated = await EmaAsync("admin", "--data", _data, "clients", "rotate-secret", "bot", "--by", "ops-team");
        Assert.Equal(0, rotated.Code);
        var secret = rotated.Out.Split("store it now): ")[1].Trim();
        Assert.Equal(43, secret.Length);

        var export = (await EmaAsync("audit", "export", "--data", _data)).Out;
        foreach (var action in new[] { "user_create", "group_create", "group_member_add", "client_create", "user_status", "role_add", "role_remove", "group_member_remove", "client_secret_rotate" })
        {
            Assert.Contains(export.Split('\n'), line => line.Contains($"\"action\":\"{action}\"", StringComparison.Ordinal) && line.Contains("\"subject\":\"cli:ops-team\"", StringComparison.Ordinal));
        }

        Assert.DoesNotContain(secret, export, StringComparison.Ordinal);
        Assert.Equal(0, (await EmaAsync("audit", "verify", "--data", _data)).Code);
    }

    [Fact]
    public async Task AdminClientsAdd_PrintsSecretOnceAndStoresOnlyItsHash()
    {
        var (code, output, _) = await EmaAsync("admin", "--data", _data, "clients", "add", "--id", "vscode", "--name", "VS Code", "--redirect-uri", "http://127.0.0.1/callback", "--token-exchange");
        Assert.Equal(0, code);
        var secret = output.Split("store it now): ")[1].Trim();
        Assert.True(secret.Length >= 40);

        var (_, list, _) = await EmaAsync("admin", "--data", _data, "clients", "list");
        Assert.Contains("vscode", list, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, list, StringComparison.Ordinal);

        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_data, "ema.db")};Pooling=False");
        var stored = await connection.QuerySingleAsync<string>("SELECT secret_hash FROM clients WHERE client_id = 'vscode'");
        Assert.StartsWith("sha256$", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminDirectoryAndEntitlements_AddListAndValidate()
    {
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "groups", "add", "--id", "grp-sales", "--name", "sales")).Code);
        var user = await EmaAsync("admin", "--data", _data, "users", "add", "--username", "sam", "--name", "Sam Sales", "--group", "grp-sales");
        Assert.Equal(0, user.Code);
        Assert.Contains("first password", user.Out, StringComparison.Ordinal);
        Assert.Contains("Secret (shown once, store it now): ", user.Out, StringComparison.Ordinal);
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "clients", "add", "--id", "agent", "--name", "Agent", "--token-exchange")).Code);
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "resources", "add", "--id", "res-crm", "--name", "CRM", "--resource", "https://crm.example/mcp", "--issuer", "https://as.crm.example", "--scope", "crm.read", "--scope", "crm.write:high")).Code);

        var undefined = await EmaAsync("admin", "--data", _data, "entitlements", "add", "--group", "grp-sales", "--client", "agent", "--resource", "res-crm", "--scope", "crm.delete");
        Assert.Equal(1, undefined.Code);
        Assert.Contains("does not define: crm.delete", undefined.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", undefined.Err, StringComparison.Ordinal);

        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "entitlements", "add", "--group", "grp-sales", "--client", "agent", "--resource", "res-crm", "--scope", "crm.read", "--by", "ops-team")).Code);
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "clients", "map", "agent", "res-crm", "crm-agent-7", "--by", "ops-team")).Code);
        var export = (await EmaAsync("audit", "export", "--data", _data)).Out.Split('\n');
        Assert.Single(export, l => l.Contains("\"action\":\"entitlement_create\"", StringComparison.Ordinal) && l.Contains("\"subject\":\"cli:ops-team\"", StringComparison.Ordinal));
        Assert.Single(export, l => l.Contains("\"action\":\"client_map\"", StringComparison.Ordinal) && l.Contains("crm-agent-7", StringComparison.Ordinal));
        Assert.DoesNotContain(export, l => l.Contains("crm.delete", StringComparison.Ordinal)); // the refused entitlement left no record
        var list = await EmaAsync("admin", "--data", _data, "entitlements", "list");
        Assert.Contains("grp-sales", list.Out, StringComparison.Ordinal);
        Assert.Contains("crm.read", list.Out, StringComparison.Ordinal);
        var resources = await EmaAsync("admin", "--data", _data, "resources", "list");
        Assert.Contains("crm.write[high]", resources.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminUsersAdd_DuplicateUsername_IsAReadableError()
    {
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "users", "add", "--username", "zoe")).Code);
        var again = await EmaAsync("admin", "--data", _data, "users", "add", "--username", "ZOE");
        Assert.Equal(1, again.Code);
        Assert.Contains("already exists", again.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminAuthorizationServer_TrustsIssuersPerTenantAndRefusesBadInput()
    {
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "as", "tenants", "add", "--id", "t-acme", "--name", "Acme")).Code);
        var jwks = Path.Combine(_data, "idp-jwks.json");
        await File.WriteAllTextAsync(jwks, System.Text.Json.JsonSerializer.Serialize(new Ema.Protocol.JsonWebKeySetDocument { Keys = [Ema.Testing.TestKeys.IdpEc().PublicKey.Jwk] }, Ema.Protocol.EmaJsonContext.Default.JsonWebKeySetDocument));
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "as", "issuers", "add", "--issuer", "https://idp.acme.example", "--tenant", "t-acme", "--jwks-file", jwks, "--alg", "ES256", "--no-jit")).Code);

        var list = await EmaAsync("admin", "--data", _data, "as", "issuers", "list");
        Assert.Contains("https://idp.acme.example  tenant t-acme  keys: inline JWKS  algs: ES256  jit: off", list.Out, StringComparison.Ordinal);

        var none = await EmaAsync("admin", "--data", _data, "as", "issuers", "add", "--issuer", "https://idp.x.example", "--tenant", "t-acme", "--jwks-file", jwks, "--alg", "none");
        Assert.Equal(1, none.Code);
        Assert.Contains("none and HS* can never be accepted", none.Err, StringComparison.Ordinal);

        // The issuer's private key, pasted by mistake: refused, nothing stored.
        var privateJwks = Path.Combine(_data, "idp-private-jwks.json");
        var publicJwks = System.Text.Json.JsonSerializer.Serialize(new Ema.Protocol.JsonWebKeySetDocument { Keys = [Ema.Testing.TestKeys.IdpEc().PublicKey.Jwk] }, Ema.Protocol.EmaJsonContext.Default.JsonWebKeySetDocument);
        await File.WriteAllTextAsync(privateJwks, publicJwks.Replace("\"kty\":", "\"d\":\"c2VjcmV0\",\"kty\":", StringComparison.Ordinal));
        var withPrivate = await EmaAsync("admin", "--data", _data, "as", "issuers", "add", "--issuer", "https://idp.private.example", "--tenant", "t-acme", "--jwks-file", privateJwks);
        Assert.Equal(1, withPrivate.Code);
        Assert.Contains("private key material", withPrivate.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("idp.private.example", (await EmaAsync("admin", "--data", _data, "as", "issuers", "list")).Out, StringComparison.Ordinal);

        var http = await EmaAsync("admin", "--data", _data, "as", "issuers", "add", "--issuer", "http://idp.x.example", "--tenant", "t-acme", "--metadata-url", "https://idp.x.example/.well-known/openid-configuration");
        Assert.Equal(1, http.Code);
        Assert.Contains("not an absolute https URL", http.Err, StringComparison.Ordinal);

        var client = await EmaAsync("admin", "--data", _data, "as", "clients", "add", "--id", "claude", "--name", "Claude");
        Assert.Contains("Secret (shown once", client.Out, StringComparison.Ordinal);
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "as", "resources", "add", "--id", "r1", "--name", "Tickets", "--resource", "https://mcp.acme.example/mcp", "--scope", "tickets.read")).Code);
        Assert.Contains("https://mcp.acme.example/mcp", (await EmaAsync("admin", "--data", _data, "as", "resources", "list")).Out, StringComparison.Ordinal);

        // Taking trust back: distrust an issuer, disable and rotate a client, remove a resource; unknown names are
        // readable errors that change nothing.
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "as", "issuers", "disable", "--issuer", "https://idp.acme.example")).Code);
        Assert.Contains("DISABLED (not trusted)", (await EmaAsync("admin", "--data", _data, "as", "issuers", "list")).Out, StringComparison.Ordinal);
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "as", "issuers", "enable", "--issuer", "https://idp.acme.example")).Code);
        Assert.DoesNotContain("DISABLED", (await EmaAsync("admin", "--data", _data, "as", "issuers", "list")).Out, StringComparison.Ordinal);
        var unknownIssuer = await EmaAsync("admin", "--data", _data, "as", "issuers", "disable", "--issuer", "https://idp.nowhere.example");
        Assert.Equal(1, unknownIssuer.Code);
        Assert.Contains("not a registered issuer", unknownIssuer.Err, StringComparison.Ordinal);

        var rotated = await EmaAsync("admin", "--data", _data, "as", "clients", "rotate-secret", "--id", "claude");
        Assert.Equal(0, rotated.Code);
        var newSecret = rotated.Out.Split("store it now): ")[1].Split('\n')[0].Trim();
        var oldSecret = client.Out.Split("store it now): ")[1].Split('\n')[0].Trim();
        Assert.NotEqual(oldSecret, newSecret);
        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "as", "clients", "disable", "--id", "claude")).Code);
        Assert.Contains("disabled", (await EmaAsync("admin", "--data", _data, "as", "clients", "list")).Out, StringComparison.Ordinal);
        Assert.Equal(1, (await EmaAsync("admin", "--data", _data, "as", "clients", "rotate-secret", "--id", "nobody")).Code);

        Assert.Equal(0, (await EmaAsync("admin", "--data", _data, "as", "resources", "remove", "--id", "r1")).Code);
        Assert.DoesNotContain("https://mcp.acme.example/mcp", (await EmaAsync("admin", "--data", _data, "as", "resources", "list")).Out, StringComparison.Ordinal);
        Assert.Equal(1, (await EmaAsync("admin", "--data", _data, "as", "resources", "remove", "--id", "r1")).Code);

        // Each change of the authorization server's settings is one audit record; the refused ones left none.
        var export = (await EmaAsync("audit", "export", "--data", _data)).Out.Split('\n');
        foreach (var (action, target) in new[]
        {
            ("as_tenant_create", "t-acme"), ("as_issuer_trust", "https://idp.acme.example"), ("as_resource_create", "r1"), ("as_issuer_disable", "https://idp.acme.example"),
            ("as_issuer_enable", "https://idp.acme.example"), ("as_client_rotate_secret", "claude"), ("as_client_disable", "claude"), ("as_resource_remove", "r1"),
        })
        {
            Assert.Single(export, l => l.Contains($"\"action\":\"{action}\"", StringComparison.Ordinal) && l.Contains($"\"resource\":\"{target}\"", StringComparison.Ordinal));
        }

        Assert.Equal(1, export.Count(l => l.Contains("\"action\":\"as_issuer_trust\"", StringComparison.Ordinal)));
        Assert.Equal(0, (await EmaAsync("audit", "verify", "--data", _data)).Code);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_data, true);
        }
        catch (IOException)
        {
        }
    }
}
