using System.Net;
using System.Net.Sockets;
using System.Text;
using Ema.Client.Session;
using Ema.Client.SignIn;
using Ema.Protocol;

namespace Ema.Client.Tests;

/// <summary>Rules found by the security review: each test is named after the rule it enforces.</summary>
public sealed class HardeningTests
{
    [Fact]
    public async Task LoopbackListener_StrayRequestsAndWrongState_DoNotEndTheSignIn_AndAnIdleConnectionDoesNotStallIt()
    {
        using var listener = new LoopbackRedirectListener();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var wait = listener.WaitAsync("the-state", cancel.Token);
        var uri = new Uri(listener.RedirectUri);
        using var idle = new TcpClient();
        await idle.ConnectAsync(IPAddress.Loopback, uri.Port); // says nothing
#pragma warning disable RS0030 // the test's browser
        using var http = new HttpClient();
#pragma warning restore RS0030
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{uri.Port}/callbackzzz?code=x&state=the-state")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"{listener.RedirectUri}?code=evil&state=guess")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"{listener.RedirectUri}?code=evil")).StatusCode);
        Assert.False(wait.IsCompleted);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"{listener.RedirectUri}?code=good&state=the-state")).StatusCode);
        var result = await wait;
        Assert.Equal("good", result["code"]);
    }

    [Fact]
    public async Task AuthorizationHandler_RefusesToSendAServersTokenAnywhereElse()
    {
        var options = new EmaClientOptions { IdentityProvider = "https://idp.example", IdentityProviderClient = new ClientCredentials("agent", "s") };
        var network = new FakeNetwork();
        using var client = new EmaClient(options, network);
#pragma warning disable RS0030 // the caller's own HttpClient over the handler, as the docs suggest
        using var http = new HttpClient(client.CreateAuthorizationHandler(new EmaServer("notes", "https://mcp.example/mcp")));
#pragma warning restore RS0030
        foreach (var elsewhere in new[] { "https://evil.example/mcp", "https://mcp.example/mcp-other", "https://mcp.example/", "http://mcp.example/mcp", "https://mcp.example:8443/mcp" })
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => http.GetAsync(elsewhere));
        }

        Assert.Empty(network.Requests); // nothing left the process
    }

    [Fact]
    public void StoredSession_OfAnotherIdentityProvider_IsNeverUsed()
    {
        var profile = Directory.CreateTempSubdirectory("ema-client-test-");
        try
        {
            new EnterpriseSessionStore(profile.FullName).Save(new EnterpriseSession
            {
                Issuer = "https://old-idp.example", ClientId = "agent", Subject = "u-1", IdToken = "a.b.c",
                IdTokenExpiresAt = TimeProvider.System.GetUtcNow().AddHours(1), SignedInAt = TimeProvider.System.GetUtcNow(),
            });
            var options = new EmaClientOptions { IdentityProvider = "https://new-idp.example", IdentityProviderClient = new ClientCredentials("agent", "s") };
            using var client = new EmaClient(options, new FakeNetwork(), new EnterpriseSessionStore(profile.FullName));
            Assert.Null(client.Session);
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ShortLivedTokens_AreNotRenewedOnEveryCall_AndAbsurdLifetimesAreBounded()
    {
        const string Idp = "https://idp.example";
        var network = new FakeNetwork();
        network.Json(Idp + "/.well-known/oauth-authorization-server", new { issuer = Idp, token_endpoint = Idp + "/token" });
        network.Json("https://mcp.example/.well-known/oauth-protected-resource/mcp", new { resource = "https://mcp.example/mcp", authorization_servers = new[] { "https://as.example" } });
        network.Json("https://as.example/.well-known/oauth-authorization-server", DiscoveryTests.AsMetadata("https://as.example"));
        network.On(HttpMethod.Post, Idp + "/token", (_, _) => FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "jag", issued_token_type = TokenTypes.IdJag, token_type = "N_A" }));
        var expiresIn = 30L;
        network.On(HttpMethod.Post, "https://as.example/token", (_, _) => FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "at-" + expiresIn, token_type = "Bearer", expires_in = expiresIn }));
        var options = new EmaClientOptions { IdentityProvider = Idp, IdentityProviderClient = new ClientCredentials("agent", "s"), UseCatalog = false };
        options.AuthorizationServerClients["https://as.example"] = new ClientCredentials("agent", "t");
        using var client = new EmaClient(options, network);
        client.UseIdToken(IdToken(Idp));
        var server = new EmaServer("notes", "https://mcp.example/mcp");
        for (var i = 0; i < 5; i++)
        {
            await client.GetAccessTokenAsync(server); // a 30 s token and a 60 s margin: renewed at half-life, not every call
        }

        Assert.Equal(1, client.TokenExchanges);

        expiresIn = long.MaxValue; // a hostile server: the client must neither crash nor trust it for centuries
        var other = new EmaServer("notes", "https://mcp.example/mcp", Scopes: ["other"]);
        Assert.StartsWith("at-", await client.GetAccessTokenAsync(other), StringComparison.Ordinal);
    }

    private static string IdToken(string issuer)
    {
        static string B64(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var exp = TimeProvider.System.GetUtcNow().AddHours(1).ToUnixTimeSeconds();
        return B64("{\"alg\":\"ES256\"}") + "." + B64($"{{\"iss\":\"{issuer}\",\"aud\":\"agent\",\"sub\":\"u-1\",\"exp\":{exp}}}") + ".c2ln";
    }
}
