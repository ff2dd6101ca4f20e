using Ema.Protocol;

namespace Ema.Client.Tests;

/// <summary>Metadata discovery rules (spec §2(a)7–9; RFC 9728 §3.3; RFC 8414 §3.3): a poisoned document is refused.</summary>
public sealed class DiscoveryTests
{
    private const string Resource = "https://mcp.example/mcp";
    private const string AsIssuer = "https://as.example/tenant1";

    [Fact]
    public async Task ProtectedResourceMetadata_NamingAnotherResource_IsRefused()
    {
        var (network, client) = World();
        network.Json("https://mcp.example/.well-known/oauth-protected-resource/mcp", new { resource = "https://evil.example/mcp", authorization_servers = new[] { AsIssuer } });
        var ex = await Assert.ThrowsAsync<EmaProtocolException>(() => client.DiscoverAuthorizationServerAsync(new EmaServer("x", Resource)));
        Assert.Contains("RFC 9728 §3.3", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, network.Count("https://as.example/.well-known/oauth-authorization-server/tenant1")); // nothing fetched on its word
    }

    [Fact]
    public async Task AuthorizationServerMetadata_WithAnotherIssuer_IsRefused()
    {
        var (network, client) = World();
        network.Json("https://mcp.example/.well-known/oauth-protected-resource/mcp", new { resource = Resource, authorization_servers = new[] { AsIssuer } });
        network.Json("https://as.example/.well-known/oauth-authorization-server/tenant1", AsMetadata("https://as.example/tenant2"));
        var ex = await Assert.ThrowsAsync<EmaProtocolException>(() => client.DiscoverAuthorizationServerAsync(new EmaServer("x", Resource)));
        Assert.Contains("RFC 8414 §3.3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Discovery_TriesThePathInsertedLocationsInTheSpecOrder()
    {
        var (network, client) = World();
        network.Json("https://mcp.example/.well-known/oauth-protected-resource", new { resource = Resource, authorization_servers = new[] { AsIssuer } });
        network.Json("https://as.example/tenant1/.well-known/openid-configuration", AsMetadata(AsIssuer));
        Assert.Equal(AsIssuer, await client.DiscoverAuthorizationServerAsync(new EmaServer("x", Resource)));
        Assert.Equal(
            [
                "https://mcp.example/.well-known/oauth-protected-resource/mcp",
                "https://mcp.example/.well-known/oauth-protected-resource",
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration",
            ],
            network.Requests.Select(r => r.Url));
    }

    [Fact]
    public async Task AuthorizationServer_ListingProfilesWithoutIdJag_IsNotUsed()
    {
        var (network, client) = World();
        network.Json("https://mcp.example/.well-known/oauth-protected-resource/mcp", new { resource = Resource, authorization_servers = new[] { AsIssuer } });
        network.Json("https://as.example/.well-known/oauth-authorization-server/tenant1", AsMetadata(AsIssuer, profiles: ["urn:example:other-profile"]));
        var ex = await Assert.ThrowsAsync<EmaProtocolException>(() => client.DiscoverAuthorizationServerAsync(new EmaServer("x", Resource)));
        Assert.Contains("does not offer the ID-JAG profile", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuthorizationServer_WithoutJwtBearer_IsNotUsed_AndTheNextOneIs()
    {
        var (network, client) = World();
        network.Json("https://mcp.example/.well-known/oauth-protected-resource/mcp", new { resource = Resource, authorization_servers = new[] { "https://old.example", AsIssuer } });
        network.Json("https://old.example/.well-known/oauth-authorization-server", new { issuer = "https://old.example", token_endpoint = "https://old.example/token", grant_types_supported = new[] { "authorization_code" } });
        network.Json("https://as.example/.well-known/oauth-authorization-server/tenant1", AsMetadata(AsIssuer));
        Assert.Equal(AsIssuer, await client.DiscoverAuthorizationServerAsync(new EmaServer("x", Resource))); // decision 8
    }

    [Fact]
    public async Task AuthorizationServer_OverHttp_IsRefused()
    {
        var (network, client) = World();
        network.Json("https://mcp.example/.well-known/oauth-protected-resource/mcp", new { resource = Resource, authorization_servers = new[] { "http://as.example" } });
        await Assert.ThrowsAsync<EmaProtocolException>(() => client.DiscoverAuthorizationServerAsync(new EmaServer("x", Resource)));
        Assert.Equal(0, network.Count("http://as.example/.well-known/oauth-authorization-server"));
    }

    [Fact]
    public async Task AuthorizationServer_WithAnHttpTokenEndpoint_IsRefused()
    {
        var (network, client) = World();
        network.Json("https://mcp.example/.well-known/oauth-protected-resource/mcp", new { resource = Resource, authorization_servers = new[] { AsIssuer } });
        network.Json("https://as.example/.well-known/oauth-authorization-server/tenant1", new { issuer = AsIssuer, token_endpoint = "http://as.example/token", grant_types_supported = new[] { GrantTypes.JwtBearer } });
        await Assert.ThrowsAsync<EmaProtocolException>(() => client.DiscoverAuthorizationServerAsync(new EmaServer("x", Resource)));
    }

    internal static object AsMetadata(string issuer, string[]? profiles = null) => profiles is null
        ? new { issuer, token_endpoint = issuer + "/token", grant_types_supported = new[] { GrantTypes.JwtBearer } }
        : new { issuer, token_endpoint = issuer + "/token", grant_types_supported = new[] { GrantTypes.JwtBearer }, authorization_grant_profiles_supported = profiles };

    private static (FakeNetwork Network, EmaClient Client) World()
    {
        var network = new FakeNetwork();
        var options = new EmaClientOptions { IdentityProvider = "https://idp.example", IdentityProviderClient = new ClientCredentials("agent", "s3cret") };
        return (network, new EmaClient(options, network));
    }
}
