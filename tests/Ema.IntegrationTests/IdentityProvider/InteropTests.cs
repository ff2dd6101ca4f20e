using System.Diagnostics;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Tokens.IdJag;
using Ema.Tokens.Issuers;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;
using ModelContextProtocol.Authentication;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>
/// Independent clients obtain ID-JAGs from Ema's IdP: the MCP C# SDK's <see cref="IdentityAssertionGrantProvider"/>
/// (ModelContextProtocol 2.3.1) and the MCP TypeScript SDK's <c>requestJwtAuthorizationGrant</c> /
/// <c>discoverAndRequestJwtAuthGrant</c> (npm @modelcontextprotocol/client 2.4.0, under Node).
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed class InteropTests(EmaServerFixture server)
{
    [Fact]
    public async Task CSharpSdk_IdentityAssertionGrantProvider_ObtainsIdJagFromEma()
    {
        await using var stub = await StubAuthorizationServer.StartAsync(server);
        var alice = await server.SignInAsync("alice");
        using var http = TrustedHttp.Client(server.Ca);
        var provider = new IdentityAssertionGrantProvider(
            new IdentityAssertionGrantProviderOptions
            {
                ClientId = DemoSeed.AgentClientId,
                ClientSecret = StubAuthorizationServer.ClientSecret,
                IdpUrl = server.Issuer,
                IdpClientId = DemoSeed.AgentClientId,
                IdpClientSecret = server.Demo.ClientSecret,
                Scope = "interop.read",
                IdTokenCallback = (_, _) => Task.FromResult(alice.Tokens.IdToken!),
            },
            http);

        var token = await provider.GetAccessTokenAsync(new Uri(server.InteropResource), new Uri(server.InteropAsIssuer), default);

        Assert.StartsWith("stub-access-token-", token.AccessToken, StringComparison.Ordinal);
        var redeemed = Assert.Single(stub.Redeemed);
        Assert.Equal("usr-alice", redeemed.Subject);
        Assert.Equal(server.InteropResource, redeemed.Resource);
        Assert.Equal(["interop.read"], redeemed.Scopes);
    }

    [Theory]
    [InlineData("discover")]
    [InlineData("direct")]
    public async Task TypeScriptSdk_RequestJwtAuthorizationGrant_ObtainsIdJagFromEma(string mode)
    {
        var alice = await server.SignInAsync("alice");
        var output = await RunNodeAsync(new
        {
            mode,
            idpUrl = server.Issuer,
            tokenEndpoint = server.Issuer + "/token",
            audience = server.InteropAsIssuer,
            resource = server.InteropResource,
            idToken = alice.Tokens.IdToken,
            clientId = DemoSeed.AgentClientId,
            clientSecret = server.Demo.ClientSecret,
            scope = "interop.read",
        });

        var result = JsonDocument.Parse(output).RootElement;
        var idJag = result.GetProperty("jwtAuthGrant").GetString()!;
        server.Remember(idJag);
        Assert.Equal("interop.read", result.GetProperty("scope").GetString());
        Assert.Equal(300, result.GetProperty("expiresIn").GetInt32());

        var keys = new HttpJwksKeySource(TrustedHttp.Client(server.Ca), new HttpJwksKeySourceOptions { JwksUri = new Uri(server.Issuer + "/jwks") }, TimeProvider.System);
        var validator = new IdJagValidator(new InMemoryTrustedIssuerRegistry([new TrustedIssuer { Issuer = server.Issuer, Keys = keys }]), new InMemoryReplayCache(TimeProvider.System), TimeProvider.System);
        var validated = await validator.ValidateAsync(new IdJagValidationRequest { Assertion = idJag, AuthenticatedClientId = DemoSeed.AgentClientId, AuthorizationServerIssuer = server.InteropAsIssuer, ServedResources = [server.InteropResource] }, default);
        Assert.True(validated.IsValid, validated.Error?.ToString());
        Assert.Equal("usr-alice", validated.Value!.Subject);
    }

    [Fact]
    public async Task TypeScriptSdk_CrossAppAccessProvider_CompletesTheFlowAndCallsATool()
    {
        var alice = await server.SignInAsync("alice");
        var output = await RunNodeAsync(
            new
            {
                idpUrl = server.Issuer,
                idToken = alice.Tokens.IdToken,
                idpClientId = DemoSeed.AgentClientId,
                idpClientSecret = server.Demo.ClientSecret,
                asClientId = DemoSeed.AgentClientId,
                asClientSecret = server.Demo.AuthorizationServerClientSecret,
                asIssuer = server.BaseUrl + "/as",
                mcpUrl = server.BaseUrl + "/mcp/wiki",
                tool = "read_document",
                arguments = new { slug = "expenses" },
            },
            "cross-app-access-client.mjs");

        var result = JsonDocument.Parse(output).RootElement;
        Assert.Equal(["read_document", "search_documents"], result.GetProperty("tools").EnumerateArray().Select(t => t.GetString()!));
        Assert.Contains("Expense policy", result.GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    private async Task<string> RunNodeAsync(object input, string script = "request-id-jag.mjs")
    {
        var directory = Path.Combine(RepositoryRoot(), "tests", "interop", "typescript");
        Assert.True(Directory.Exists(Path.Combine(directory, "node_modules", "@modelcontextprotocol", "client")), "run `npm ci` in tests/interop/typescript (test.sh does it)");
        var start = new ProcessStartInfo("node", script) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["EMA_INTEROP"] = JsonSerializer.Serialize(input);
        start.Environment["NODE_EXTRA_CA_CERTS"] = Path.Combine(server.DataDirectory, "tls", LocalCertificateAuthority.CaCertificateFile);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, "node failed: " + await stderr);
        return await stdout;
    }

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Ema.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Ema.slnx not found.");
    }
}
