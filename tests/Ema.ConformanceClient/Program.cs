using System.Text.Json;
using Ema.Client;
using Ema.Protocol;
using ModelContextProtocol.Protocol;

// The MCP conformance suite (npm @modelcontextprotocol/conformance) starts this program with the MCP server URL as the
// last argument and the scenario's context in MCP_CONFORMANCE_CONTEXT; it plays the IdP, the AS and the MCP server on
// http://localhost, hence the loopback development switch. Everything else is Ema.Client as shipped.
var scenario = Environment.GetEnvironmentVariable("MCP_CONFORMANCE_SCENARIO") ?? string.Empty;
var contextJson = Environment.GetEnvironmentVariable("MCP_CONFORMANCE_CONTEXT") ?? "{}";
if (args.Length == 0)
{
    await Console.Error.WriteLineAsync("usage: MCP_CONFORMANCE_CONTEXT=<json> ema-conformance-client <mcp-server-url>");
    return 2;
}

var context = JsonDocument.Parse(contextJson).RootElement;
string Get(string name) => context.TryGetProperty(name, out var v) ? v.GetString() ?? string.Empty : string.Empty;
var serverUrl = args[^1];

// Enterprise-Managed Authorization when the scenario hands over an ID token; otherwise the scenario tests the ordinary
// MCP authorization flow, which Ema's client runs only as the opt-in fallback of decision 11 — switched on here.
var enterprise = context.TryGetProperty("idp_id_token", out _);
var options = enterprise
    ? new EmaClientOptions
    {
        IdentityProvider = Get("idp_issuer"),
        IdentityProviderTokenEndpoint = Get("idp_token_endpoint"),
        IdentityProviderClient = new ClientCredentials(Get("idp_client_id"), null, ClientAuthenticationMethods.None),
        UseCatalog = false,
        AllowHttpOnLoopback = true,
    }
    : new EmaClientOptions { UseCatalog = false, AllowHttpOnLoopback = true, AllowInteractiveAuthorization = true, ClientName = "ema-conformance-client" };
if (!enterprise && context.TryGetProperty("client_id", out var preRegistered))
{
    await Console.Error.WriteLineAsync($"scenario '{scenario}' pre-registers client {preRegistered}; registered after discovery.");
}

using var network = new SocketsHttpHandler();
using var browserNetwork = new SocketsHttpHandler { AllowAutoRedirect = false };
using var client = new EmaClient(options, network, browser: new HeadlessBrowser(browserNetwork));
try
{
    var server = new EmaServer("conformance", serverUrl);
    if (enterprise)
    {
        client.UseIdToken(Get("idp_id_token"));
        var issuer = await client.DiscoverAuthorizationServerAsync(server);
        options.AuthorizationServerClients[issuer] = new ClientCredentials(Get("client_id"), Get("client_secret"), ClientAuthenticationMethods.ClientSecretBasic);
    }

    await using var connection = await client.ConnectAsync(server);
    if (connection.Status != ConnectionStatus.Connected)
    {
        await Console.Error.WriteLineAsync($"{serverUrl}: {connection.Summary}");
        return 1;
    }

    var tools = await connection.Client!.ListToolsAsync();
    await Console.Out.WriteLineAsync($"connected; tools: {string.Join(", ", tools.Select(t => t.Name))}");
    if (tools.Count > 0)
    {
        var result = await connection.Client.CallToolAsync(tools[0].Name, new Dictionary<string, object?>());
        await Console.Out.WriteLineAsync($"{tools[0].Name}: {string.Join(' ', result.Content.OfType<TextContentBlock>().Select(b => b.Text))}");
    }

    return 0;
}
catch (Exception ex) when (ex is EmaProtocolException or EmaAccessDeniedException or HttpRequestException or EmaSignInRequiredException or ModelContextProtocol.McpException)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 1;
}

/// <summary>The conformance authorization server approves at once: follow its redirect to the loopback listener.</summary>
internal sealed class HeadlessBrowser(HttpMessageHandler handler) : Ema.Client.SignIn.IBrowser
{
    public async Task OpenAsync(Uri authorizationUrl, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(handler, disposeHandler: false);
        using var response = await http.GetAsync(authorizationUrl, cancellationToken);
        if (response.Headers.Location is { } location)
        {
            using var _ = await http.GetAsync(new Uri(authorizationUrl, location), cancellationToken);
        }
    }
}
