using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.AuthorizationServer;
using Ema.IntegrationTests.IdentityProvider;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Server.Model;
using Ema.Server.Stores;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Ema.IntegrationTests.ResourceServer;

/// <summary>
/// An independent resource server — the MCP TypeScript SDK server with Express, verifying tokens with jose through Ema's
/// JWKS — accepts the access tokens Ema's authorization server issues, and refuses one issued for another resource.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed class IndependentResourceServerTests(EmaServerFixture server) : IAsyncLifetime
{
    private readonly int _port = EmaServerFixture.FreePort();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _stderr = new();
    private Process _node = null!;

    private string Resource => $"http://127.0.0.1:{_port}/mcp";

    public async Task InitializeAsync()
    {
        var id = "res-ts-" + _port;
        var scopes = new List<ResourceScope> { new("notes.read") };
        await server.App.Services.GetRequiredService<IApplicationStore>().CreateResourceAsync(new ResourceApplication { Id = id, DisplayName = "TS notes", Resource = Resource, AuthorizationServerIssuer = server.BaseUrl + "/as", Scopes = scopes }, default);
        await server.App.Services.GetRequiredService<IEntitlementStore>().CreateAsync(new Entitlement("ent-" + id, EntitlementSubjectType.Group, "grp-engineering", DemoSeed.AgentClientId, id, ["notes.read"]), default);
        await server.App.Services.GetRequiredService<IAuthorizationServerStore>().CreateResourceAsync(new ProtectedResource { Id = id, Name = "TS notes", Resource = Resource, Scopes = scopes }, default);

        var start = new ProcessStartInfo("node", "independent-resource-server.mjs")
        {
            WorkingDirectory = Path.Combine(InteropTests.RepositoryRoot(), "tests", "interop", "typescript"),
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["EMA_INTEROP"] = JsonSerializer.Serialize(new { port = _port, resource = Resource, issuer = server.BaseUrl + "/as", jwksUri = server.BaseUrl + "/as/jwks" });
        start.Environment["NODE_EXTRA_CA_CERTS"] = Path.Combine(server.DataDirectory, "tls", LocalCertificateAuthority.CaCertificateFile);
        _node = Process.Start(start)!;

        // Drain stderr continuously: an unread pipe would eventually block the peer.
        _node.ErrorDataReceived += (_, e) => { if (e.Data is not null) { _stderr.Enqueue(e.Data); } };
        _node.BeginErrorReadLine();
        var ready = await _node.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(ready == "ready", "the TypeScript resource server did not start: " + string.Join('\n', _stderr));
    }

    public async Task DisposeAsync()
    {
        _node.StandardInput.Close();
        if (!_node.WaitForExit(5000))
        {
            _node.Kill(entireProcessTree: true);
        }

        await _node.WaitForExitAsync();
        _node.Dispose();
    }

    [Fact]
    public async Task TypeScriptServer_AcceptsEmaAccessToken_AndCallsATool()
    {
        var token = await TokenForAsync(Resource);
        var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(Resource), TransportMode = HttpTransportMode.StreamableHttp }, http, null, ownsHttpClient: true)).WaitAsync(TimeSpan.FromSeconds(30));
        var result = await client.CallToolAsync("whoami", new Dictionary<string, object?>()).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Matches(@"^sub=acct_\S+ scopes=notes.read$", ((TextContentBlock)result.Content[0]).Text);
    }

    [Fact]
    public async Task TypeScriptServer_RefusesTokenForAnotherResource()
    {
        var token = await TokenForAsync(server.BaseUrl + "/mcp/wiki");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var request = new HttpRequestMessage(HttpMethod.Post, Resource) { Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", token);
        var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private async Task<string> TokenForAsync(string resource)
    {
        var alice = await server.SignInAsync("alice");
        var as_ = new AuthorizationServerTests(server);
        var idJag = await as_.ExchangeAsync(alice.Tokens.IdToken!, resource);
        var response = await as_.RedeemAsync(idJag, (DemoSeed.AgentClientId, server.Demo.AuthorizationServerClientSecret));
        var token = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.AccessTokenResponse)!.AccessToken;
        server.Remember(token);
        return token;
    }
}
