using System.Text.Json;
using Ema.Client;
using Ema.Protocol;
using ModelContextProtocol.Protocol;

// The MCP conformance suite (npm @modelcontextprotocol/conformance) starts this program with the MCP server URL as the
// last argument and the scenario's context in MCP_CONFORMANCE_CONTEXT; it plays the IdP, the AS and the MCP server on
// http://localhost, hence the loopback development switch. Everything else is Ema.Client as shipped.
var scenario = Environment.GetEnvironmentVariable("MCP_CONFORMANCE_SCENARIO") ?? string.Empty;
var contextJson = Environment.GetEnvironmentVariable("MCP_CONFORMANCE_CONTEXT");
if (args.Length == 0 || contextJson is null)
{
    await Console.Error.WriteLineAsync("usage: MCP_CONFORMANCE_CONTEXT=<json> ema-conformance-client <mcp-server-url>");
    return 2;
}

var context = JsonDocument.Parse(contextJson).RootElement;
string Get(string name) => context.TryGetProperty(name, out var v) ? v.GetString() ?? string.Empty : string.Empty;
var serverUrl = args[^1];

if (!scenario.StartsWith("auth/enterprise-managed-authorization", StringComparison.Ordinal) && !context.TryGetProperty("idp_id_token", out _))
{
    await Console.Error.WriteLineAsync($"scenario '{scenario}' is not an Enterprise-Managed Authorization scenario; this client does no interactive per-server OAuth (decision 11).");
    return 3;
}

var options = new EmaClientOptions
{
    IdentityProvider = Get("idp_issuer"),
    IdentityProviderTokenEndpoint = Get("idp_token_endpoint"),
    IdentityProviderClient = new ClientCredentials(Get("idp_client_id"), null, ClientAuthenticationMethods.None),
    UseCatalog = false,
    AllowHttpOnLoopback = true,
};

using var network = new SocketsHttpHandler();
using var client = new EmaClient(options, network);
try
{
    client.UseIdToken(Get("idp_id_token"));
    var server = new EmaServer("conformance", serverUrl);
    var issuer = await client.DiscoverAuthorizationServerAsync(server);
    options.AuthorizationServerClients[issuer] = new ClientCredentials(Get("client_id"), Get("client_secret"), ClientAuthenticationMethods.ClientSecretBasic);

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
catch (Exception ex) when (ex is EmaProtocolException or EmaAccessDeniedException or HttpRequestException)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 1;
}
