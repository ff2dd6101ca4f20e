using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.AuthorizationServer;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using System.Security.Claims;
using Ema.Server.AspNetCore.Mcp;
using Ema.Server.AspNetCore.ProtectedResource;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Ema.Server.Model;
using Ema.Server.Stores;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ema.IntegrationTests.ResourceServer;

/// <summary>
/// An MCP server protected with <c>AddEmaProtectedResource</c> (spec §2(d); RFC 9728; RFC 6750): metadata, challenges,
/// audience-bound validation, scopes, and the validated-token cache — with tokens from the real IdP → AS chain.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed class ProtectedResourceTests(EmaServerFixture server) : IAsyncLifetime
{
    // Never the interop stub's port: its resource (https://127.0.0.1:{port}/mcp) is registered with another AS, and a
    // clash made this resource's registration fail and its exchanges answer EMA3110 (seen once in a full run).
    private readonly int _port = FreePortOtherThan(server.InteropPort);
    private WebApplication _app = null!;
    private CountingKeySource _keys = null!;

    // The app's clock (tokens are minted at real time and live 10 minutes; only the idle-expiry test moves it, 3 minutes).
    private readonly Ema.Testing.FakeTimeProvider _clock = new(TimeProvider.System.GetUtcNow());

    private string Resource => $"https://127.0.0.1:{_port}/mcp";

    private static int FreePortOtherThan(int taken)
    {
        var port = EmaServerFixture.FreePort();
        return port != taken ? port : EmaServerFixture.FreePort();
    }

    private string Hello => $"https://127.0.0.1:{_port}/hello";

    public async Task InitializeAsync()
    {
        var applications = server.App.Services.GetRequiredService<IApplicationStore>();
        var scopes = new List<ResourceScope> { new("notes.read"), new("notes.write", ScopeRisk.Medium) };
        var id = "res-notes-" + _port;
        await applications.CreateResourceAsync(new ResourceApplication { Id = id, DisplayName = "Notes", Resource = Resource, AuthorizationServerIssuer = server.BaseUrl + "/as", Scopes = scopes }, default);
        await server.App.Services.GetRequiredService<IEntitlementStore>().CreateAsync(new Entitlement("ent-" + id + "-eng", EntitlementSubjectType.Group, "grp-engineering", DemoSeed.AgentClientId, id, ["notes.read", "notes.write"]), default);
        await server.App.Services.GetRequiredService<IEntitlementStore>().CreateAsync(new Entitlement("ent-" + id + "-con", EntitlementSubjectType.Group, "grp-contractors", DemoSeed.AgentClientId, id, ["notes.read"]), default);
        await server.App.Services.GetRequiredService<IAuthorizationServerStore>().CreateResourceAsync(new ProtectedResource { Id = id, Name = "Notes", Resource = Resource, Scopes = scopes }, default);

        _keys = new CountingKeySource(new HttpJwksKeySource(TrustedHttp.Client(server.Ca), new HttpJwksKeySourceOptions { JwksUri = new Uri(server.BaseUrl + "/as/jwks") }, TimeProvider.System));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, _port, l => l.UseHttps(X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(server.DataDirectory, "tls", "server.pfx"), null))));
        builder.Services.AddAuthentication().AddEmaProtectedResource(o =>
        {
            o.Resource = Resource;
            o.AuthorizationServer = server.BaseUrl + "/as";
            o.ScopesSupported = ["notes.read", "notes.write"];
            o.ResourceName = "Notes";
            o.Keys = _keys;
        });
        builder.Services.AddAuthorization();
        builder.Services.AddSingleton<TimeProvider>(_clock);
        _app = builder.Build();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.MapEmaProtectedResourceMetadata();
        _app.MapGet("/hello", (HttpContext ctx) => $"hello {ctx.User.FindFirst("sub")?.Value} [{string.Join(' ', ctx.User.FindAll("scope").Select(c => c.Value))}]").RequireEmaToken();
        _app.MapPost("/hello/write", () => "written").RequireEmaScope("notes.write");
        _app.MapMcpStreamableHttp("/mcp", new EmaMcpServerDefinition
        {
            ServerInfo = new() { Name = "notes", Version = "1.0.0" },
            SessionIdleTimeout = TimeSpan.FromMinutes(2),
            Tools =
            [
                new(McpServerTool.Create((ClaimsPrincipal? user) => $"notes of {user?.FindFirst("sub")?.Value}: buy milk", new McpServerToolCreateOptions { Name = "list_notes", Description = "List notes" }), "notes.read"),
                new(McpServerTool.Create((string text) => $"added: {text}", new McpServerToolCreateOptions { Name = "add_note", Description = "Add a note" }), "notes.write"),
                new(McpServerTool.Create(() => "pong", new McpServerToolCreateOptions { Name = "ping", Description = "Liveness" })),
            ],
        });
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Metadata_IsServedAtThePathInsertedLocation()
    {
        var json = await server.Http.GetStringAsync($"https://127.0.0.1:{_port}/.well-known/oauth-protected-resource/mcp");
        var metadata = JsonSerializer.Deserialize(json, EmaJsonContext.Default.ProtectedResourceMetadata)!;
        Assert.Equal(Resource, metadata.Resource);
        Assert.Equal([server.BaseUrl + "/as"], metadata.AuthorizationServers!);
        Assert.Equal(["header"], metadata.BearerMethodsSupported!);
    }

    [Fact]
    public async Task NoToken_Is401WithResourceMetadataAndScope()
    {
        var response = await server.Http.GetAsync(Hello);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.Single().ToString();
        Assert.Contains($"resource_metadata=\"https://127.0.0.1:{_port}/.well-known/oauth-protected-resource/mcp\"", challenge, StringComparison.Ordinal);
        Assert.Contains("scope=\"notes.read notes.write\"", challenge, StringComparison.Ordinal);
        Assert.DoesNotContain("error=", challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidToken_IsAcceptedAndRepeatCallsSkipTheSignatureCheck()
    {
        var token = await AccessTokenAsync("alice");
        var lookupsBefore = _keys.Lookups;
        for (var i = 0; i < 10; i++)
        {
            var response = await SendAsync(HttpMethod.Get, Hello, token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Matches(@"^hello acct_\S+ \[notes.read notes.write\]$", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(lookupsBefore + 1, _keys.Lookups); // one validation, nine cache hits
    }

    [Fact]
    public async Task TokenForAnotherResource_IsInvalidToken()
    {
        var alice = await server.SignInAsync("alice");
        var as_ = new AuthorizationServerTests(server);
        var idJag = await as_.ExchangeAsync(alice.Tokens.IdToken!, server.BaseUrl + "/mcp/tickets");
        var redeemed = await as_.RedeemAsync(idJag, (DemoSeed.AgentClientId, server.Demo.AuthorizationServerClientSecret));
        var ticketsToken = JsonSerializer.Deserialize(await redeemed.Content.ReadAsStringAsync(), EmaJsonContext.Default.AccessTokenResponse)!.AccessToken;
        server.Remember(ticketsToken);

        var response = await SendAsync(HttpMethod.Get, Hello, ticketsToken);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.Single().ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task IdJagOrIdpTokens_AreNeverAccepted()
    {
        var alice = await server.SignInAsync("alice");
        var idJag = await new AuthorizationServerTests(server).ExchangeAsync(alice.Tokens.IdToken!, Resource);
        foreach (var token in new[] { idJag, alice.Tokens.IdToken!, alice.Tokens.AccessToken })
        {
            var response = await SendAsync(HttpMethod.Get, Hello, token);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task MissingScope_Is403InsufficientScopeNamingIt()
    {
        var token = await AccessTokenAsync("carol"); // contractors: notes.read only
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, Hello, token)).StatusCode);

        var response = await SendAsync(HttpMethod.Post, Hello + "/write", token);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.Single().ToString();
        Assert.Contains("error=\"insufficient_scope\"", challenge, StringComparison.Ordinal);
        Assert.Contains("scope=\"notes.write\"", challenge, StringComparison.Ordinal);
        Assert.Contains("resource_metadata=", challenge, StringComparison.Ordinal);

        var alice = await AccessTokenAsync("alice");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, Hello + "/write", alice)).StatusCode);
    }

    [Fact]
    public async Task Mcp_ToolsListAndCall_ThroughTheSdkClient_AreScopedToTheToken()
    {
        await using var alice = await ConnectAsync(await AccessTokenAsync("alice"));
        Assert.Equal(["add_note", "list_notes", "ping"], (await alice.ListToolsAsync()).Select(t => t.Name).Order());
        var result = await alice.CallToolAsync("list_notes", new Dictionary<string, object?>());
        Assert.Matches(@"^notes of acct_\S+: buy milk$", ((TextContentBlock)result.Content[0]).Text);

        await using var carol = await ConnectAsync(await AccessTokenAsync("carol"));
        Assert.Equal(["list_notes", "ping"], (await carol.ListToolsAsync()).Select(t => t.Name).Order());
    }

    [Fact]
    public async Task Mcp_ToolCallWithoutScope_Is403InsufficientScope()
    {
        var token = await AccessTokenAsync("carol");
        var (sessionId, _) = await InitializeRawAsync(token);
        var response = await PostRpcAsync(token, sessionId, """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add_note","arguments":{"text":"x"}}}""");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.Single().ToString();
        Assert.Contains("error=\"insufficient_scope\"", challenge, StringComparison.Ordinal);
        Assert.Contains("scope=\"notes.write\"", challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mcp_SessionOfAnotherUser_IsRefused()
    {
        var alice = await AccessTokenAsync("alice");
        var carol = await AccessTokenAsync("carol");
        var (sessionId, _) = await InitializeRawAsync(alice);
        var response = await PostRpcAsync(carol, sessionId, """{"jsonrpc":"2.0","id":2,"method":"tools/list"}""");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Mcp_DeletedSession_IsGone()
    {
        var token = await AccessTokenAsync("alice");
        var (sessionId, _) = await InitializeRawAsync(token);
        var delete = new HttpRequestMessage(HttpMethod.Delete, Resource);
        delete.Headers.Authorization = new("Bearer", token);
        delete.Headers.Add("Mcp-Session-Id", sessionId);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.SendAsync(delete)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostRpcAsync(token, sessionId, """{"jsonrpc":"2.0","id":3,"method":"tools/list"}""")).StatusCode);
    }

    [Fact]
    public async Task Mcp_IdleSession_ExpiresAndTheClientMustReinitialize()
    {
        var token = await AccessTokenAsync("alice");
        var (sessionId, _) = await InitializeRawAsync(token);
        Assert.Equal(HttpStatusCode.OK, (await PostRpcAsync(token, sessionId, """{"jsonrpc":"2.0","id":2,"method":"tools/list"}""")).StatusCode);

        _clock.Advance(TimeSpan.FromMinutes(3)); // idle timeout is 2 minutes
        Assert.Equal(HttpStatusCode.NotFound, (await PostRpcAsync(token, sessionId, """{"jsonrpc":"2.0","id":3,"method":"tools/list"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await InitializeRawAsync(token) is var again ? HttpStatusCode.OK : HttpStatusCode.NotFound));
    }

    [Theory]
    [InlineData("2025-11-25", HttpStatusCode.OK)]
    [InlineData("2025-06-18", HttpStatusCode.OK)]
    [InlineData("2025-03-26", HttpStatusCode.OK)]
    [InlineData("1999-01-01", HttpStatusCode.BadRequest)]
    [InlineData("2026-07-28", HttpStatusCode.BadRequest)] // the sessionless revision this host does not serve
    [InlineData("latest", HttpStatusCode.BadRequest)]
    public async Task Mcp_UnsupportedProtocolVersionHeader_Is400(string version, HttpStatusCode expected)
    {
        var token = await AccessTokenAsync("alice");
        var (sessionId, _) = await InitializeRawAsync(token);
        var response = await PostRpcAsync(token, sessionId, """{"jsonrpc":"2.0","id":2,"method":"tools/list"}""", version);
        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.BadRequest)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.Contains("MCP-Protocol-Version", body, StringComparison.Ordinal);
            Assert.Contains("-32600", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Mcp_MissingProtocolVersionHeader_IsAcceptedAsTheDefaultVersion()
    {
        var token = await AccessTokenAsync("alice");
        var (sessionId, _) = await InitializeRawAsync(token);
        Assert.Equal(HttpStatusCode.OK, (await PostRpcAsync(token, sessionId, """{"jsonrpc":"2.0","id":2,"method":"tools/list"}""")).StatusCode);
    }

    [Fact]
    public async Task Mcp_UnsupportedProtocolVersionHeader_OnDelete_Is400AndTheSessionSurvives()
    {
        var token = await AccessTokenAsync("alice");
        var (sessionId, _) = await InitializeRawAsync(token);
        var delete = new HttpRequestMessage(HttpMethod.Delete, Resource);
        delete.Headers.Authorization = new("Bearer", token);
        delete.Headers.Add("Mcp-Session-Id", sessionId);
        delete.Headers.Add("MCP-Protocol-Version", "1999-01-01");
        Assert.Equal(HttpStatusCode.BadRequest, (await server.Http.SendAsync(delete)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostRpcAsync(token, sessionId, """{"jsonrpc":"2.0","id":3,"method":"tools/list"}""")).StatusCode);
    }

    [Fact]
    public async Task Mcp_WithoutToken_Is401WithResourceMetadata()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Resource) { Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", System.Text.Encoding.UTF8, "application/json") };
        var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("resource_metadata=", response.Headers.WwwAuthenticate.Single().ToString(), StringComparison.Ordinal);
    }

    private async Task<McpClient> ConnectAsync(string token)
    {
        var http = TrustedHttp.Client(server.Ca);
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(Resource), TransportMode = HttpTransportMode.StreamableHttp }, http, null, ownsHttpClient: true));
    }

    private async Task<(string SessionId, string Body)> InitializeRawAsync(string token)
    {
        var response = await PostRpcAsync(token, null, """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response.Headers.GetValues("Mcp-Session-Id").Single(), await response.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> PostRpcAsync(string token, string? sessionId, string json, string? protocolVersion = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Resource) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", token);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (sessionId is not null)
        {
            request.Headers.Add("Mcp-Session-Id", sessionId);
        }

        if (protocolVersion is not null)
        {
            request.Headers.Add("MCP-Protocol-Version", protocolVersion);
        }

        return server.Http.SendAsync(request);
    }

    private async Task<string> AccessTokenAsync(string username)
    {
        var signIn = await server.SignInAsync(username);
        var as_ = new AuthorizationServerTests(server);
        var idJag = await as_.ExchangeAsync(signIn.Tokens.IdToken!, Resource);
        var response = await as_.RedeemAsync(idJag, (DemoSeed.AgentClientId, server.Demo.AuthorizationServerClientSecret));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        var token = JsonSerializer.Deserialize(body, EmaJsonContext.Default.AccessTokenResponse)!.AccessToken;
        server.Remember(token);
        return token;
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, string token)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.Authorization = new("Bearer", token);
        return server.Http.SendAsync(request);
    }

    private sealed class CountingKeySource(IIssuerKeySource inner) : IIssuerKeySource
    {
        private int _lookups;

        public int Lookups => Volatile.Read(ref _lookups);

        public ValueTask<KeyLookupResult> FindKeyAsync(string? keyId, JwsAlgorithm algorithm, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _lookups);
            return inner.FindKeyAsync(keyId, algorithm, cancellationToken);
        }
    }
}
