using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ema.Client;
using Ema.Client.Session;
using Ema.Protocol;
using Ema.Server.Audit;
using ModelContextProtocol.Protocol;
using Spectre.Console;

namespace Ema.Cli;

/// <summary>
/// <c>ema quickstart</c>, the project's main job: the IdP, the authorization server and the three sample MCP servers on
/// loopback https with a generated CA and an SQLite data folder; a demo organization; then, as the demo user alice,
/// the whole experience — sign-in through the real page, every entitled server connected, tools listed and one
/// called, a server refused by policy with its reason and decision id, and the audit trail of all of it.
/// </summary>
internal static class Quickstart
{
    private const string DemoUser = "alice";

    public static Command Command()
    {
        var exit = new Option<bool>("--exit") { Description = "Stop after the scripted run (default: keep serving so you can try ema login)." };
        var json = new Option<bool>("--json") { Description = "Print a machine-readable summary of the run on stdout." };
        var data = new Option<string?>("--data") { Description = "Data folder (default: ~/.local/share/ema/quickstart-<port>)." };
        var port = new Option<int>("--port") { Description = "https port on 127.0.0.1 (default 7443, or a free one if it is taken; 0 for a free one).", DefaultValueFactory = _ => 7443 };
        var command = new Command("quickstart", "Run everything on this machine and watch an employee reach every entitled MCP server after one sign-in.") { exit, json, data, port };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(exit), parse.GetValue(json), parse.GetValue(data), parse.GetValue(port), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(bool exitAfterRun, bool json, string? dataOption, int port, CancellationToken cancellationToken)
    {
        port = port == 0 || !IsFree(port) ? FreePort() : port;
        var baseUrl = $"https://127.0.0.1:{port}";
        var data = dataOption ?? Path.Combine(new EmaHostOptions().ResolveDataDirectory(), $"quickstart-{port}");
        var say = json ? TextWriter.Null : Console.Out;
        var console = json ? null : ClientCommands.Output();
        var started = TimeProvider.System.GetUtcNow();

        await say.WriteLineAsync($"Starting the IdP, the authorization server and three MCP servers on {baseUrl} (data: {data})…");
        WebApplication app;
        try
        {
            app = EmaHost.Build(
                ["--Ema:DataDirectory=" + data, "--Ema:Urls=" + baseUrl, "--Ema:Seed=demo", "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning"],
                builder =>
                {
                    builder.Logging.ClearProviders(); // stdout is for the story (or the JSON)
                    if (!json)
                    {
                        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
                    }
                });
            await app.StartAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            return ClientCommands.Fail("quickstart: " + ex.Message, ExitCodes.Failed);
        }

        await using var _ = app;
        var demo = JsonSerializer.Deserialize(await File.ReadAllTextAsync(Path.Combine(data, DemoSeed.CredentialsFile), cancellationToken), DemoJson.Default.DemoCredentials)!;
        var profileDirectory = Path.Combine(data, "client-profile");
        var caFile = Path.Combine(data, "tls", LocalCertificateAuthority.CaCertificateFile);
        WriteProfile(profileDirectory, baseUrl, demo, caFile);

        // The client sees the organization's three servers: the catalog lists those alice is entitled to; the third is
        // configured too, so the run shows what a policy refusal looks like.
        var password = demo.Users.Single(u => u.Username == DemoUser).Password;
        var browserHandler = OutboundHttp.Handler(caFile, null);
        browserHandler.AllowAutoRedirect = false; // the scripted browser follows redirects itself, with cookies
        browserHandler.UseCookies = true;
        browserHandler.CookieContainer = new CookieContainer();
        var network = OutboundHttp.Handler(caFile, null);
        network.AllowAutoRedirect = false;
        using var client = new EmaClient(ClientProfile.Load(profileDirectory)!.ToOptions(profileDirectory), network, new EnterpriseSessionStore(profileDirectory), new PageSignInBrowser(browserHandler, DemoUser, password));
        {
            await say.WriteLineAsync($"Signing in as {DemoUser} through the IdP's sign-in page…");
            var session = await client.SignInAsync(cancellationToken);
            await say.WriteLineAsync($"Signed in as {session.Name} ({session.Username}). Connecting to every server the organization enabled…");

            var connections = await client.ConnectAllAsync(cancellationToken);
            var connected = new JsonArray();
            var blocked = new JsonArray();
            var unreachable = new JsonArray();
            var table = new Table().AddColumns("server", "status", "tools, or why not");
            try
            {
                foreach (var c in connections.OrderBy(c => c.Server.Name, StringComparer.Ordinal))
                {
                    if (c.Status == ConnectionStatus.Connected)
                    {
                        var tools = (await c.Client!.ListToolsAsync(cancellationToken: cancellationToken)).Select(t => t.Name).ToList();
                        connected.Add(new JsonObject { ["server"] = c.Server.Name, ["resource"] = c.Server.Resource, ["tools"] = new JsonArray([.. tools.Select(t => (JsonNode)t)]) });
                        table.AddRow(Markup.Escape(TerminalText.Safe(c.Server.Name)), "[green]connected[/]", Markup.Escape(TerminalText.Safe(string.Join(", ", tools))));
                    }
                    else if (c.Status == ConnectionStatus.Blocked)
                    {
                        blocked.Add(new JsonObject { ["server"] = c.Server.Name, ["reason"] = c.Refusal!.Reason, ["decisionId"] = c.Refusal.DecisionId });
                        table.AddRow(Markup.Escape(TerminalText.Safe(c.Server.Name)), "[red]blocked[/]", Markup.Escape(TerminalText.Safe(c.Summary)));
                    }
                    else
                    {
                        unreachable.Add(new JsonObject { ["server"] = c.Server.Name, ["reason"] = c.Summary });
                        table.AddRow(Markup.Escape(TerminalText.Safe(c.Server.Name)), "[yellow]" + c.Status.ToString().ToLowerInvariant() + "[/]", Markup.Escape(TerminalText.Safe(c.Summary)));
                    }
                }

                console?.Write(table);

                // One call, to show a tool answering with the user's identity behind it.
                JsonObject? call = null;
                if ((connections.FirstOrDefault(c => c.Status == ConnectionStatus.Connected && c.Server.Resource.EndsWith("/mcp/tickets", StringComparison.Ordinal))
                    ?? connections.FirstOrDefault(c => c.Status == ConnectionStatus.Connected)) is { } target)
                {
                    var tool = (await target.Client!.ListToolsAsync(cancellationToken: cancellationToken)).First();
                    var arguments = tool.Name switch
                    {
                        "list_tickets" => new Dictionary<string, object?>(),
                        "search_documents" => new Dictionary<string, object?> { ["query"] = "policy" },
                        "get_balance" => new Dictionary<string, object?> { ["account"] = "cash" },
                        _ => [],
                    };
                    var result = await target.Client.CallToolAsync(tool.Name, arguments, cancellationToken: cancellationToken);
                    var text = string.Join('\n', result.Content.OfType<TextContentBlock>().Select(b => b.Text));
                    call = new JsonObject { ["server"] = target.Server.Name, ["tool"] = tool.Name, ["isError"] = result.IsError == true, ["result"] = text };
                    await say.WriteLineAsync($"\nCalled {target.Server.Name} → {tool.Name}:\n{Indent(text)}");
                }

                // The audit trail of what just happened: one record per decision, at the IdP and the AS.
                var events = (await app.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { Since = started.AddSeconds(-1), Limit = 500 }, cancellationToken))
                    .Where(e => e.Time >= started.AddSeconds(-1)).OrderBy(e => e.Time).ToList();
                if (console is not null)
                {
                    await say.WriteLineAsync("\nAudit trail of this run:");
                    var audit = new Table().AddColumns("time", "event", "outcome", "server", "scope", "decision / token id", "parent (ID-JAG) id");
                    foreach (var e in events)
                    {
                        var server = e.Resource is { } r && Uri.TryCreate(r, UriKind.Absolute, out var u) ? u.AbsolutePath : string.Empty;
                        audit.AddRow(
                            e.Time.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture),
                            Markup.Escape(TerminalText.Safe(e.Type)),
                            e.Outcome == AuditOutcomes.Denied ? "[red]denied[/]" : Markup.Escape(TerminalText.Safe(e.Outcome)),
                            Markup.Escape(TerminalText.Safe(server)),
                            Markup.Escape(TerminalText.Safe(e.Scope ?? string.Empty)),
                            Markup.Escape(TerminalText.Safe(e.Outcome == AuditOutcomes.Denied ? $"{e.Id} ({e.Reason})" : e.TokenId ?? e.Id)),
                            Markup.Escape(TerminalText.Safe(e.ParentTokenId ?? string.Empty)));
                    }

                    console.Write(audit);
                }

                var succeeded = connected.Count > 0;
                if (json)
                {
                    Console.Out.WriteLine(new JsonObject
                    {
                        ["user"] = session.Username,
                        ["subject"] = session.Subject,
                        ["connected"] = connected,
                        ["blocked"] = blocked,
                        ["unreachable"] = unreachable,
                        ["call"] = call,
                        ["auditEvents"] = events.Count,
                        ["urls"] = new JsonObject { ["base"] = baseUrl, ["identityProvider"] = baseUrl + "/idp", ["authorizationServer"] = baseUrl + "/as", ["adminConsole"] = baseUrl + "/admin" },
                    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                }

                if (exitAfterRun)
                {
                    await DisposeAllAsync(connections); // before stopping: open MCP streams would hold the shutdown
                    await app.StopAsync(cancellationToken);
                    return succeeded ? ExitCodes.Ok : ExitCodes.Failed;
                }
            }
            finally
            {
                await DisposeAllAsync(connections);
            }
        }

        Console.Out.WriteLine($"""

            Ema is running on {baseUrl} (press Ctrl+C to stop).
              IdP (OIDC discovery):   {baseUrl}/idp/.well-known/openid-configuration
              Authorization server:   {baseUrl}/.well-known/oauth-authorization-server/as
              MCP servers:            {baseUrl}/mcp/tickets  {baseUrl}/mcp/wiki  {baseUrl}/mcp/ledger
              Admin console:          {baseUrl}/admin  (alice; her authenticator key is in the passwords file: add it to an authenticator app)
              My connections:         {baseUrl}/my/connections
              Demo users' passwords:  {Path.Combine(data, DemoSeed.CredentialsFile)}
              TLS: trust {caFile}
            Try it yourself (alice, bob and carol each see different servers):
              ema login   --profile {profileDirectory}
              ema servers --profile {profileDirectory}
              ema tools   --profile {profileDirectory}
              ema call    --profile {profileDirectory} Tickets list_tickets
            """);
        await app.WaitForShutdownAsync(cancellationToken);
        return ExitCodes.Ok;
    }

    /// <summary>The client profile a person (or the run) uses against this instance; secrets encrypted at rest.</summary>
    private static void WriteProfile(string directory, string baseUrl, DemoCredentials demo, string caFile)
    {
        var profile = new ClientProfile
        {
            IdentityProvider = baseUrl + "/idp",
            IdentityProviderClient = new StoredCredentials { ClientId = demo.ClientId, Method = ClientAuthenticationMethods.ClientSecretBasic },
            TrustedCaFile = caFile,
            Servers =
            [
                new StoredServer { Name = "Tickets", Resource = baseUrl + "/mcp/tickets" },
                new StoredServer { Name = "Wiki", Resource = baseUrl + "/mcp/wiki" },
                new StoredServer { Name = "Ledger", Resource = baseUrl + "/mcp/ledger" },
            ],
        };
        profile.Save(directory);
        profile.IdentityProviderClient.ProtectedSecret = ClientProfile.Protect(directory, demo.ClientSecret);
        profile.AuthorizationServers[baseUrl + "/as"] = new StoredCredentials { ClientId = demo.ClientId, Method = ClientAuthenticationMethods.ClientSecretBasic, ProtectedSecret = ClientProfile.Protect(directory, demo.AuthorizationServerClientSecret) };
        profile.Save(directory);
    }

    private static async Task DisposeAllAsync(IReadOnlyList<EmaConnection> connections)
    {
        foreach (var c in connections)
        {
            await c.DisposeAsync();
        }
    }

    private static string Indent(string text) => string.Join('\n', text.Split('\n').Select(l => "  " + l));

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
