using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Authentication;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Ema.IntegrationTests.AuthorizationServer;

/// <summary>
/// The three exchanges end to end inside the product (<c>ema serve</c>: IdP, authorization server, sample MCP servers),
/// driven by an independent client: the MCP C# SDK's <see cref="IdentityAssertionGrantProvider"/> obtains the ID-JAG and
/// the access token, and its <see cref="McpClient"/> lists and calls tools over Streamable HTTP.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed partial class EndToEndMcpTests(EmaServerFixture server)
{
    [Theory]
    [InlineData("client_secret_basic")]
    [InlineData("client_secret_post")]
    public async Task CSharpSdk_IdentityAssertionGrant_ReachesTicketsAndCallsATool(string authMethod)
    {
        var alice = await server.SignInAsync("alice");
        var metadataHttp = TrustedHttp.Client(server.Ca);
        var provider = new IdentityAssertionGrantProvider(
            new IdentityAssertionGrantProviderOptions
            {
                ClientId = DemoSeed.AgentClientId,
                ClientSecret = server.Demo.AuthorizationServerClientSecret,
                TokenEndpointAuthMethod = authMethod,
                IdpUrl = server.Issuer,
                IdpClientId = DemoSeed.AgentClientId,
                IdpClientSecret = server.Demo.ClientSecret,
                IdTokenCallback = (_, _) => Task.FromResult(alice.Tokens.IdToken!),
            },
            metadataHttp);
        var http = new HttpClient(new EnterpriseAuthHandler(provider, metadataHttp) { InnerHandler = TrustedHttp.Handler(server.Ca) });

        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(server.BaseUrl + "/mcp/tickets"), TransportMode = HttpTransportMode.StreamableHttp }, http, null, ownsHttpClient: true));
        var tools = (await client.ListToolsAsync()).Select(t => t.Name).Order().ToArray();
        Assert.Equal(["create_ticket", "get_ticket", "list_tickets", "update_ticket_status"], tools);
        var result = await client.CallToolAsync("list_tickets", new Dictionary<string, object?> { ["status"] = "open" });
        Assert.Contains("Login page returns 500", ((TextContentBlock)result.Content[0]).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Contractor_SeesOnlyReadTools_AndIsRefusedTheLedger()
    {
        var carol = await server.SignInAsync("carol");
        var metadataHttp = TrustedHttp.Client(server.Ca);
        var provider = new IdentityAssertionGrantProvider(
            new IdentityAssertionGrantProviderOptions
            {
                ClientId = DemoSeed.AgentClientId,
                ClientSecret = server.Demo.AuthorizationServerClientSecret,
                IdpUrl = server.Issuer,
                IdpClientId = DemoSeed.AgentClientId,
                IdpClientSecret = server.Demo.ClientSecret,
                IdTokenCallback = (_, _) => Task.FromResult(carol.Tokens.IdToken!),
            },
            metadataHttp);
        var http = new HttpClient(new EnterpriseAuthHandler(provider, metadataHttp) { InnerHandler = TrustedHttp.Handler(server.Ca) });
        await using (var tickets = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(server.BaseUrl + "/mcp/tickets"), TransportMode = HttpTransportMode.StreamableHttp }, http, null, ownsHttpClient: false)))
        {
            Assert.Equal(["get_ticket", "list_tickets"], (await tickets.ListToolsAsync()).Select(t => t.Name).Order());
        }

        // The IdP refuses the ledger for contractors: the provider surfaces the policy error (never a retry storm).
        provider.InvalidateCache();
        var refused = await Assert.ThrowsAsync<IdentityAssertionGrantException>(() => provider.GetAccessTokenAsync(new Uri(server.BaseUrl + "/mcp/ledger"), new Uri(server.BaseUrl + "/as"), default));
        Assert.Equal("invalid_grant", refused.ErrorCode);
    }

    /// <summary>
    /// A minimal EMA delegating handler for the test (the full one is Ema.Client's job): on a 401, read the
    /// resource metadata, get a token through the SDK provider, retry once.
    /// </summary>
    private sealed partial class EnterpriseAuthHandler(IdentityAssertionGrantProvider provider, HttpClient metadata) : DelegatingHandler
    {
        private string? _token;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is not null)
            {
                await request.Content.LoadIntoBufferAsync(cancellationToken);
            }

            if (_token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            }

            var response = await base.SendAsync(request, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                return response;
            }

            var challenge = response.Headers.WwwAuthenticate.FirstOrDefault(h => h.Scheme == "Bearer")?.Parameter ?? string.Empty;
            var prmUrl = ResourceMetadata().Match(challenge).Groups[1].Value;
            var prm = await metadata.GetFromJsonAsync<ProtectedResourceMetadata>(prmUrl, McpJsonUtilities.DefaultOptions, cancellationToken);
            provider.InvalidateCache();
            var tokens = await provider.GetAccessTokenAsync(new Uri(prm!.Resource!), new Uri(prm.AuthorizationServers[0]), cancellationToken);
            _token = tokens.AccessToken;
            response.Dispose();
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            return await base.SendAsync(request, cancellationToken);
        }

        [GeneratedRegex("resource_metadata=\"([^\"]+)\"")]
        private static partial Regex ResourceMetadata();
    }
}
