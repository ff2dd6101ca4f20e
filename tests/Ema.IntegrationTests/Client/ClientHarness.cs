using System.Net;
using Ema.Cli;
using Ema.Client;
using Ema.Client.Session;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;

namespace Ema.IntegrationTests.Client;

/// <summary>Builds <see cref="EmaClient"/>s against the running host, signed in through the real sign-in page.</summary>
internal static class ClientHarness
{
    public static EmaClientOptions Options(EmaServerFixture server, bool useCatalog = true, params EmaServer[] servers)
    {
        var options = new EmaClientOptions
        {
            IdentityProvider = server.Issuer,
            IdentityProviderClient = new ClientCredentials(DemoSeed.AgentClientId, server.Demo.ClientSecret, ClientAuthenticationMethods.ClientSecretBasic),
            UseCatalog = useCatalog,
        };
        options.AuthorizationServerClients[server.BaseUrl + "/as"] = new ClientCredentials(DemoSeed.AgentClientId, server.Demo.AuthorizationServerClientSecret, ClientAuthenticationMethods.ClientSecretBasic);
        foreach (var s in servers)
        {
            options.Servers.Add(s);
        }

        return options;
    }

    public static EmaServer Server(EmaServerFixture server, string name, params string[] scopes) =>
        new(name, server.BaseUrl + "/mcp/" + name, server.BaseUrl + "/as", scopes.Length == 0 ? null : scopes);

    /// <summary>A client signed in as <paramref name="username"/> through the page (the browser is scripted, the flow is real).</summary>
    public static async Task<EmaClient> SignedInAsync(EmaServerFixture server, string username, EmaClientOptions? options = null, HttpMessageHandler? network = null, EnterpriseSessionStore? store = null, TimeProvider? time = null)
    {
        var browser = new PageSignInBrowser(TrustedHttp.Handler(server.Ca, new CookieContainer()), username, server.Password(username));
        var client = new EmaClient(options ?? Options(server), network ?? TrustedHttp.Handler(server.Ca), store, browser, time);
        var session = await client.SignInAsync();
        server.Remember(session.IdToken, session.AccessToken, session.RefreshToken);
        return client;
    }
}

/// <summary>Counts requests per path, and can answer the next request to a path with a given response (fault injection).</summary>
internal sealed class CountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _counts = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<(string Path, Func<HttpResponseMessage> Response)> _faults = new();

    public int Count(string path) => _counts.GetValueOrDefault(path);

    public void FailNext(string path, Func<HttpResponseMessage> response) => _faults.Enqueue((path, response));

    /// <summary>The JSON bodies the client posted to MCP servers (paths under <c>/mcp/</c>), in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> McpRequestBodies { get; } = new();

    /// <summary>The paths of requests that carried a DPoP header (RFC 9449 §4.1), in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> DpopRequestPaths { get; } = new();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        _counts.AddOrUpdate(path, 1, (_, n) => n + 1);
        if (_faults.TryPeek(out var fault) && fault.Path == path && _faults.TryDequeue(out fault))
        {
            return fault.Response();
        }

        if (request.Headers.Contains("DPoP"))
        {
            DpopRequestPaths.Enqueue(path);
        }

        if (request.Method == HttpMethod.Post && path.StartsWith("/mcp/", StringComparison.Ordinal) && request.Content is { } content)
        {
            McpRequestBodies.Enqueue(await content.ReadAsStringAsync(cancellationToken)); // buffered: still sent whole
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
