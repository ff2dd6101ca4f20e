using Ema.Admin;
using Ema.Admin.Api;
using Ema.Admin.Console;
using Ema.Server;
using Ema.Server.Audit;
using Ema.Server.Stores;
using Ema.Storage;
using Ema.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.AuthorizationServer;

/// <summary>
/// The authorization server's settings take only what they will be compared and shown as: each refusal names the
/// problem and stores nothing (a real SQLite file).
/// </summary>
public sealed class AuthorizationServerOperationsTests : IAsyncLifetime
{
    private static readonly ConsoleUser Admin = new("usr-admin", "admin", "Admin", ["admin"], DateTimeOffset.UnixEpoch, ["pwd", "mfa"], null);
    private readonly string _folder = Directory.CreateTempSubdirectory("ema-as-ops-").FullName;
    private ServiceProvider _services = null!;

    private AuthorizationServerOperations Operations => _services.GetRequiredService<AuthorizationServerOperations>();

    private IAuthorizationServerStore Store => _services.GetRequiredService<IAuthorizationServerStore>();

    public async Task InitializeAsync()
    {
        _services = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System).AddEmaSqliteStorage(Path.Combine(_folder, "ema.db")).AddSingleton<AuthorizationServerOperations>().BuildServiceProvider();
        foreach (var task in _services.GetServices<IStartupTask>().OrderBy(t => t.Order))
        {
            await task.RunAsync(default);
        }

        Assert.True((await Operations.CreateTenantAsync(Admin, "globex", "Globex", default)).Succeeded);
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Theory]
    [InlineData("")] // blank: could be trusted and then never named again to distrust it
    [InlineData(" ")]
    [InlineData(" https://idp.globex.example")]
    [InlineData("https://idp.globex.example/\u001B[2K\r")] // terminal escapes, silently escaped by Uri
    [InlineData("https://user:pass@idp.globex.example")]
    [InlineData("https://idp.globex.example/?tenant=x")]
    [InlineData("http://idp.globex.example")]
    public async Task TrustIssuer_AnIssuerThatIsNotExactlyAnHttpsUrl_IsRefused_AndNothingStored(string issuer)
    {
        var result = await Operations.TrustIssuerAsync(Admin, new TrustIssuerInput(issuer, "globex", "https://idp.globex.example/.well-known/openid-configuration", null, null, null, null), default);
        Assert.False(result.Succeeded);
        Assert.Contains("is not an absolute https URL", result.Message, StringComparison.Ordinal);
        Assert.Empty(await Store.ListTrustedIssuersAsync(default));
    }

    [Fact]
    public async Task TrustIssuer_WithAnIdpTenant_StoresIt_AndAControlCharacterIsRefused()
    {
        var refused = await Operations.TrustIssuerAsync(Admin, new TrustIssuerInput("https://idp.globex.example", "globex", "https://idp.globex.example/.well-known/openid-configuration", null, null, null, null, IssuerTenant: "acme\u001B[2K"), default);
        Assert.False(refused.Succeeded);
        Assert.Empty(await Store.ListTrustedIssuersAsync(default));

        Assert.True((await Operations.TrustIssuerAsync(Admin, new TrustIssuerInput("https://idp.globex.example", "globex", "https://idp.globex.example/.well-known/openid-configuration", null, null, null, null, IssuerTenant: " acme "), default)).Succeeded);
        Assert.Equal("acme", Assert.Single(await Store.ListTrustedIssuersAsync(default)).IssuerTenant);
    }

    [Fact]
    public async Task TrustIssuer_AListWithAnEmptyEntry_IsARefusal_NotAnException()
    {
        var result = await Operations.TrustIssuerAsync(Admin, new TrustIssuerInput("https://idp.globex.example", "globex", "https://idp.globex.example/.well-known/openid-configuration", null, null, [null!], null), default);
        Assert.False(result.Succeeded);
        Assert.Empty(await Store.ListTrustedIssuersAsync(default));
    }

    [Theory]
    [InlineData("GLOBEX", "Globex Two")] // an id that differs only in case
    [InlineData("globex-2", "GLOBEX")] // a name that differs only in case
    [InlineData("globex-3", "Globex\u200B")] // an invisible character
    [InlineData("globex-4", "\u202EXEBOLG")] // a right-to-left override
    public async Task CreateTenant_ALookAlikeOfAnExistingTenant_IsRefused(string id, string name)
    {
        Assert.False((await Operations.CreateTenantAsync(Admin, id, name, default)).Succeeded);
        Assert.Single(await Store.ListTenantsAsync(default));
    }

    [Theory]
    [InlineData("https://mcp.globex.example/mcp/")] // the same resource as https://mcp.globex.example/mcp
    [InlineData("javascript:alert(1)")]
    [InlineData("/mcp#frag")] // a file URI on Unix
    [InlineData("http://mcp.globex.example/mcp")]
    [InlineData("https://mcp.globex.example/other#frag")]
    public async Task CreateResource_AnIdentifierThatIsNotAUsableUrl_OrADuplicate_IsRefused(string resource)
    {
        Assert.True((await Operations.CreateResourceAsync(Admin, "tickets", "Tickets", "https://mcp.globex.example/mcp", ["tickets.read"], default)).Succeeded);
        Assert.False((await Operations.CreateResourceAsync(Admin, "other", "Other", resource, ["x.read"], default)).Succeeded);
        Assert.Single(await Store.ListResourcesAsync(default));
    }

    [Theory]
    [InlineData("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"1\",\"y\":\"2\"}]}", "Every key must be usable for ES256")]
    [InlineData("[]", "Not a JWK Set")]
    [InlineData("{\"keys\":", "not valid JSON")]
    [InlineData("PRIVATE", "holds a private key")]
    [InlineData("P384", "Every key must be usable for ES256")] // a key the verifier would never use
    [InlineData("SIX", "At most five keys")]
    public async Task CreateClient_WithKeysThatCannotVerifyOrArePrivate_IsRefused_AndNothingStored(string jwks, string expected)
    {
        // private_key_jwt registrations take public keys only: a private one pasted by mistake is refused, not stored.
        if (jwks == "PRIVATE")
        {
            var key = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(TestKeys.OtherIdpEc().PublicKey.Jwk, Ema.Protocol.EmaJsonContext.Default.JsonWebKeyDocument))!.AsObject();
            key["d"] = "AAAA";
            jwks = "{\"keys\":[" + key.ToJsonString() + "]}";
        }

        string PublicJwk(System.Security.Cryptography.ECCurve curve)
        {
            using var ec = System.Security.Cryptography.ECDsa.Create(curve);
            return System.Text.Json.JsonSerializer.Serialize(Ema.Tokens.Keys.VerificationKey.FromEcdsa(ec).Jwk, Ema.Protocol.EmaJsonContext.Default.JsonWebKeyDocument);
        }

        jwks = jwks switch
        {
            "P384" => "{\"keys\":[" + PublicJwk(System.Security.Cryptography.ECCurve.NamedCurves.nistP384) + "]}",
            "SIX" => "{\"keys\":[" + string.Join(",", Enumerable.Range(0, 6).Select(_ => PublicJwk(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))) + "]}",
            _ => jwks,
        };
        var refused = await Operations.CreateClientAsync(Admin, "pk-client", "PK", jwks, default);
        Assert.False(refused.Succeeded);
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        Assert.Empty(await Store.ListClientsAsync(default));
    }

    [Fact]
    public async Task IssuerTenant_CanBeSetAndCleared_OnAnIssuerAlreadyTrusted_ALookAlikeIsRefused()
    {
        // Upgraded deployments: an issuer trusted before tenants existed can be narrowed to one IdP tenant later.
        Assert.True((await Operations.TrustIssuerAsync(Admin, new TrustIssuerInput("https://idp.globex.example", "globex", "https://idp.globex.example/.well-known/openid-configuration", null, null, null, null), default)).Succeeded);
        Assert.False((await Operations.SetIssuerTenantAsync(Admin, "https://idp.globex.example", "acme\u200B", default)).Succeeded); // zero-width: never matches
        Assert.Null(Assert.Single(await Store.ListTrustedIssuersAsync(default)).IssuerTenant);

        Assert.True((await Operations.SetIssuerTenantAsync(Admin, "https://idp.globex.example", "acme", default)).Succeeded);
        Assert.Equal("acme", Assert.Single(await Store.ListTrustedIssuersAsync(default)).IssuerTenant);
        Assert.True((await Operations.SetIssuerTenantAsync(Admin, "https://idp.globex.example", null, default)).Succeeded);
        Assert.Null(Assert.Single(await Store.ListTrustedIssuersAsync(default)).IssuerTenant);
        Assert.False((await Operations.SetIssuerTenantAsync(Admin, "https://idp.nowhere.example", "acme", default)).Succeeded);
    }

    [Fact]
    public async Task RequireDpop_CanBeTurnedOnAndOff_ForAnExistingClient()
    {
        Assert.True((await Operations.CreateClientAsync(Admin, "claude", "Claude", default)).Succeeded);
        Assert.True((await Operations.SetClientRequireDpopAsync(Admin, "claude", true, default)).Succeeded);
        Assert.True((await Store.FindClientAsync("claude", default))!.RequireDpop);
        Assert.True((await Operations.SetClientRequireDpopAsync(Admin, "claude", false, default)).Succeeded);
        Assert.False((await Store.FindClientAsync("claude", default))!.RequireDpop);
        Assert.False((await Operations.SetClientRequireDpopAsync(Admin, "nobody", true, default)).Succeeded);
    }

    [Fact]
    public async Task CreateClient_WithPublicKeys_IsPrivateKeyJwt_WithoutASecret()
    {
        var jwks = "{\"keys\":[" + System.Text.Json.JsonSerializer.Serialize(TestKeys.OtherIdpEc().PublicKey.Jwk, Ema.Protocol.EmaJsonContext.Default.JsonWebKeyDocument) + "]}";
        var created = await Operations.CreateClientAsync(Admin, "pk-client", "PK", jwks, default);
        Assert.True(created.Succeeded, created.Message);
        Assert.Null(created.OneTimeSecret);
        var client = Assert.Single(await Store.ListClientsAsync(default));
        Assert.Equal(Ema.Protocol.ClientAuthenticationMethods.PrivateKeyJwt, client.AuthenticationMethod);
        Assert.Null(client.SecretHash);
        Assert.Equal(jwks, client.Jwks);
    }

    [Fact]
    public async Task TrustChanges_WhoseAuditRecordCannotBeWritten_DoNotHappen_AndTheOldSecretStillWorks()
    {
        // Each change and its record commit together: a rotation whose record fails leaves the old secret in force.
        var created = await Operations.CreateClientAsync(Admin, "claude", "Claude", default);
        Assert.True(created.Succeeded);
        Assert.True((await Operations.TrustIssuerAsync(Admin, new TrustIssuerInput("https://idp.globex.example", "globex", "https://idp.globex.example/.well-known/openid-configuration", null, null, null, null), default)).Succeeded);
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(_folder, "ema.db")};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var trigger = connection.CreateCommand();
            trigger.CommandText = "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_blocks BEGIN SELECT RAISE(ABORT, 'audit refused'); END;";
            await trigger.ExecuteNonQueryAsync();
        }

        await Assert.ThrowsAsync<AuditUnavailableException>(() => Operations.RotateClientSecretAsync(Admin, "claude", default));
        Assert.True(Ema.Server.Security.SecretHasher.Verify(created.OneTimeSecret!, (await Store.FindClientAsync("claude", default))!.SecretHash!));
        await Assert.ThrowsAsync<AuditUnavailableException>(() => Operations.SetIssuerEnabledAsync(Admin, "https://idp.globex.example", enabled: false, default));
        Assert.True((await Store.FindTrustedIssuerAsync("https://idp.globex.example", default))!.Enabled);
        await Assert.ThrowsAsync<AuditUnavailableException>(() => Operations.CreateClientAsync(Admin, "other", "Other", default));
        Assert.Null(await Store.FindClientAsync("other", default));
    }

    [Fact]
    public async Task TrustChanges_AreRecordedOnce_AndAChangeThatChangedNothingIsNotRecorded()
    {
        Assert.True((await Operations.CreateClientAsync(Admin, "claude", "Claude", default)).Succeeded);
        Assert.False((await Operations.CreateClientAsync(Admin, "claude", "Claude again", default)).Succeeded); // exists: refused, not recorded
        Assert.False((await Operations.SetClientEnabledAsync(Admin, "nobody", enabled: false, default)).Succeeded);
        Assert.False((await Operations.TrustIssuerAsync(Admin, new TrustIssuerInput("https://idp.nowhere.example", "no-such-tenant", "https://idp.nowhere.example/.well-known/openid-configuration", null, null, null, null), default)).Succeeded); // a constraint, refused inside the batch
        var records = await _services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { Limit = 100 }, default);
        Assert.Single(records, r => r.Action == "as_client_create" && r.Resource == "claude");
        Assert.DoesNotContain(records, r => r.Resource is "nobody" or "https://idp.nowhere.example");
        Assert.Empty(await Store.ListTrustedIssuersAsync(default));
    }

    [Fact]
    public async Task AdminApi_AuthorizationServerRole_IsRecognizedByItsIssuerRegistry_NotByTheStoreEveryRoleHas()
    {
        await using var idpOnly = new ServiceCollection().AddLogging().AddEmaSqliteStorage(Path.Combine(_folder, "other.db")).BuildServiceProvider();
        Assert.NotNull(idpOnly.GetService<IAuthorizationServerStore>());
        Assert.False(AuthorizationServerApi.IsHosted(idpOnly));

        await using var withAs = new ServiceCollection().AddLogging().AddEmaSqliteStorage(Path.Combine(_folder, "other.db")).AddEmaAuthorizationServer(o => o.Issuer = "https://as.example").BuildServiceProvider();
        Assert.True(AuthorizationServerApi.IsHosted(withAs));
    }
}
