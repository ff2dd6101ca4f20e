using System.CommandLine;
using System.Text;
using Ema.Client;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Ema.Cli;

/// <summary>
/// <c>ema bridge</c>: a stdio MCP server that any MCP host can launch (Claude Desktop, VS Code, an IDE). It connects to
/// every entitled server with EMA tokens and exposes their tools under namespaced names (<c>tickets__get_ticket</c>),
/// forwarding each call — so hosts that cannot do EMA themselves get zero-touch enterprise connections.
/// stdout carries only the MCP protocol; everything for people goes to stderr.
/// </summary>
internal static class Bridge
{
    private const string Separator = "__";

    public static Command Command()
    {
        var command = new Command("bridge", "Serve the tools of every entitled MCP server over stdio to an MCP host that cannot do EMA itself.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (client, error) = ClientCommands.Open(ClientCommands.ProfileDirectory(parse), interactive: true);
            if (client is null)
            {
                return ClientCommands.Fail(error!, ExitCodes.Usage);
            }

            using (client)
            {
                if (client.Session is null)
                {
                    return ClientCommands.Fail("Not signed in: run ema login, then start the bridge again.", ExitCodes.SignInRequired);
                }

                IReadOnlyList<EmaConnection> connections;
                try
                {
                    connections = await client.ConnectAllAsync(cancellationToken);
                }
                catch (Exception ex) when (ClientCommands.IsExpected(ex))
                {
                    return ClientCommands.Fail(ex.Message, ExitCodes.Unavailable);
                }

                try
                {
                    foreach (var c in connections)
                    {
                        await Console.Error.WriteLineAsync($"ema bridge: {TerminalText.Safe(c.Server.Name)}: {TerminalText.Safe(c.Summary)}");
                    }

                    await RunAsync(connections.Where(c => c.Status == ConnectionStatus.Connected).ToList(), cancellationToken);
                    return ExitCodes.Ok;
                }
                finally
                {
                    foreach (var c in connections)
                    {
                        await c.DisposeAsync();
                    }
                }
            }
        });
        return command;
    }

    internal static string Namespace(string serverName)
    {
        var builder = new StringBuilder();
        foreach (var ch in serverName.ToLowerInvariant())
        {
            builder.Append(char.IsAsciiLetterOrDigit(ch) ? ch : '-'); // never '_': the first "__" of a tool name is the separator
        }

        return builder.ToString();
    }

    private static async Task RunAsync(IReadOnlyList<EmaConnection> connections, CancellationToken cancellationToken)
    {
        // Names that collide after sanitizing get a numeric suffix rather than shadowing each other.
        var byNamespace = new Dictionary<string, EmaConnection>(StringComparer.Ordinal);
        foreach (var connection in connections)
        {
            var name = Namespace(connection.Server.Name);
            for (var n = 2; byNamespace.ContainsKey(name); n++)
            {
                name = Namespace(connection.Server.Name) + "-" + n;
            }

            byNamespace[name] = connection;
        }

        var options = new McpServerOptions
        {
            ServerInfo = new Implementation { Name = "ema-bridge", Version = Program.VersionText().Split(' ')[1] },
            ServerInstructions = "Tools of the MCP servers your organization enabled, reached with Enterprise-Managed Authorization. Tool names are <server>__<tool>.",
        };

        // tools/list is asked of every server each time, so a server's changes (and scopes gained by step-up) show at once.
        options.Handlers.ListToolsHandler = async (request, ct) =>
        {
            var tools = new List<Tool>();
            foreach (var (prefix, connection) in byNamespace)
            {
                IList<McpClientTool> listed;
                try
                {
                    listed = await connection.Client!.ListToolsAsync(cancellationToken: ct);
                }
                catch (Exception ex) when (ClientCommands.IsExpected(ex))
                {
                    await Console.Error.WriteLineAsync($"ema bridge: {TerminalText.Safe(connection.Server.Name)}: {TerminalText.Safe(ex.Message)}");
                    continue;
                }

                tools.AddRange(listed.Select(t => new Tool
                {
                    Name = prefix + Separator + t.Name,
                    Title = t.ProtocolTool.Title,
                    Description = $"[{connection.Server.Name}] {t.Description}",
                    InputSchema = t.ProtocolTool.InputSchema,
                    OutputSchema = t.ProtocolTool.OutputSchema,
                    Annotations = t.ProtocolTool.Annotations,
                }));
            }

            return new ListToolsResult { Tools = tools };
        };

        options.Handlers.CallToolHandler = async (request, ct) =>
        {
            var name = request.Params?.Name ?? string.Empty;
            var split = name.IndexOf(Separator, StringComparison.Ordinal);
            if (split <= 0 || !byNamespace.TryGetValue(name[..split], out var connection))
            {
                return Error($"Unknown tool '{name}'. Tools are named <server>{Separator}<tool>; see tools/list.");
            }

            try
            {
                return await connection.Client!.CallToolAsync(new CallToolRequestParams { Name = name[(split + Separator.Length)..], Arguments = request.Params!.Arguments }, ct);
            }
            catch (EmaAccessDeniedException ex)
            {
                return Error(ex.Refusal.Reason + (ex.Refusal.DecisionId is { } id ? $" (decision {id})" : string.Empty));
            }
            catch (Exception ex) when (ClientCommands.IsExpected(ex))
            {
                return Error($"{connection.Server.Name}: {ex.Message}");
            }
        };

        var transport = new StdioServerTransport(options, NullLoggerFactory.Instance);
        await using var server = McpServer.Create(transport, options, NullLoggerFactory.Instance);
        await server.RunAsync(cancellationToken);
    }

    private static CallToolResult Error(string message) => new() { IsError = true, Content = [new TextContentBlock { Text = message }] };
}
