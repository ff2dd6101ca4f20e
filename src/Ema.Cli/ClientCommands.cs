using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ema.Client;
using Ema.Client.Session;
using Ema.Protocol;
using ModelContextProtocol.Protocol;
using Spectre.Console;

namespace Ema.Cli;

/// <summary>Exit codes of the client commands (documented in docs/configuration.md).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int SignInRequired = 3;
    public const int Blocked = 4;
    public const int Unavailable = 5;
}

/// <summary>
/// The client side of <c>ema</c>: <c>login</c>, <c>logout</c>, <c>status</c>, <c>servers</c>, <c>tools</c>, <c>call</c> and
/// <c>bridge</c>. Expected failures print one readable line and an exit code, never a stack trace.
/// </summary>
internal static class ClientCommands
{
    public static readonly Option<string?> ProfileOption = new("--profile") { Description = "Client profile folder (default: $EMA_PROFILE or ~/.config/ema).", Recursive = true };

    private static readonly Option<bool> JsonOption = new("--json") { Description = "Machine-readable output." };

    public static IEnumerable<Command> Create() => [Login(), Logout(), Status(), Servers(), Tools(), Call(), Bridge.Command()];

    internal static string ProfileDirectory(ParseResult parse) => parse.GetValue(ProfileOption) is { Length: > 0 } dir ? Path.GetFullPath(dir) : ClientProfile.DefaultDirectory();

    /// <summary>The client for the profile; a readable error when there is no profile.</summary>
    internal static (EmaClient? Client, string? Error) Open(string directory, bool interactive)
    {
        ClientProfile? profile;
        try
        {
            profile = ClientProfile.Load(directory);
        }
        catch (JsonException)
        {
            return (null, $"The profile {Path.Combine(directory, "client.json")} is not valid JSON.");
        }

        if (profile is null)
        {
            return (null, $"No client profile in {directory}: run ema login --idp <issuer> --client-id <id> … first (or ema quickstart).");
        }

        try
        {
            var handler = OutboundHttp.Handler(profile.TrustedCaFile, null);
            handler.AllowAutoRedirect = false; // a redirected token request would re-send its form (subject token, assertion)
            var client = new EmaClient(profile.ToOptions(directory), handler, new EnterpriseSessionStore(directory), interactive ? new SystemBrowser(Console.Error) : null);
            return (client, null);
        }
        catch (InvalidOperationException ex)
        {
            return (null, ex.Message);
        }
    }

    private static Command Login()
    {
        var idp = new Option<string?>("--idp") { Description = "The enterprise IdP's issuer URL (writes the profile)." };
        var clientId = new Option<string?>("--client-id") { Description = "This client's id at the IdP." };
        var clientSecret = new Option<string?>("--client-secret") { Description = "Its secret (or set EMA_CLIENT_SECRET; stored encrypted)." };
        var clientAuth = new Option<string>("--client-auth") { Description = "client_secret_basic, client_secret_post or none.", DefaultValueFactory = _ => ClientAuthenticationMethods.ClientSecretBasic };
        var authorizationServers = new Option<string[]>("--as") { Description = "A registration at an MCP authorization server: ISSUER=CLIENT_ID:SECRET[:METHOD] (repeatable).", AllowMultipleArgumentsPerToken = false };
        var servers = new Option<string[]>("--server") { Description = "An MCP server besides the catalog: NAME=URL (repeatable)." };
        var ca = new Option<string?>("--ca") { Description = "A CA certificate to trust besides the system roots (e.g. a local Ema's tls/ca.crt)." };
        var device = new Option<bool>("--device") { Description = "Sign in on another device (RFC 8628), for machines without a browser." };
        var dpop = new Option<bool>("--dpop") { Description = "With --idp: bind every ID-JAG to a key this client holds in memory (DPoP, RFC 9449)." };
        var command = new Command("login", "Sign in once with your organization's IdP.") { idp, clientId, clientSecret, clientAuth, authorizationServers, servers, ca, device, dpop, JsonOption };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var directory = ProfileDirectory(parse);
            if (parse.GetValue(idp) is { Length: > 0 } issuer)
            {
                var error = WriteProfile(directory, issuer, parse.GetValue(clientId), parse.GetValue(clientSecret) ?? Environment.GetEnvironmentVariable("EMA_CLIENT_SECRET"), parse.GetValue(clientAuth)!, parse.GetValue(authorizationServers) ?? [], parse.GetValue(servers) ?? [], parse.GetValue(ca), parse.GetValue(dpop));
                if (error is not null)
                {
                    return Fail(error, ExitCodes.Usage);
                }
            }

            var (client, openError) = Open(directory, interactive: true);
            if (client is null)
            {
                return Fail(openError!, ExitCodes.Usage);
            }

            using (client)
            {
                try
                {
                    var session = parse.GetValue(device)
                        ? await DeviceSignIn.RunAsync(client, Console.Error, cancellationToken)
                        : await client.SignInAsync(cancellationToken);
                    if (parse.GetValue(JsonOption))
                    {
                        Console.Out.WriteLine(new JsonObject { ["user"] = session.Username ?? session.Subject, ["subject"] = session.Subject, ["issuer"] = session.Issuer, ["expiresAt"] = session.IdTokenExpiresAt }.ToJsonString());
                    }
                    else
                    {
                        Console.Out.WriteLine(TerminalText.Safe($"Signed in as {session.Name ?? session.Username ?? session.Subject} at {session.Issuer}. Session stored (encrypted) in {directory}."));
                    }

                    return ExitCodes.Ok;
                }
                catch (Exception ex) when (IsExpected(ex))
                {
                    return Fail(ex.Message, CodeFor(ex));
                }
            }
        });
        return command;
    }

    private static string? WriteProfile(string directory, string issuer, string? clientId, string? secret, string method, string[] authorizationServers, string[] servers, string? ca, bool useDpop)
    {
        if (string.IsNullOrEmpty(clientId))
        {
            return "--client-id is required with --idp.";
        }

        var previous = ClientProfile.Load(directory);
        if (previous is not null && (previous.IdentityProvider != issuer || previous.IdentityProviderClient.ClientId != clientId))
        {
            new EnterpriseSessionStore(directory).Delete(); // the old IdP's tokens are never presented to the new one
        }

        var profile = new ClientProfile
        {
            IdentityProvider = issuer,
            IdentityProviderClient = new StoredCredentials { ClientId = clientId, Method = method },
            TrustedCaFile = ca is null ? null : Path.GetFullPath(ca),
            UseDpop = useDpop,
        };
        profile.Save(directory); // creates the key ring before secrets are protected with it
        if (secret is not null)
        {
            profile.IdentityProviderClient.ProtectedSecret = ClientProfile.Protect(directory, secret);
        }

        foreach (var entry in authorizationServers)
        {
            // ISSUER=CLIENT_ID[:SECRET][:METHOD]. The issuer is a URL (no '=' expected); the secret may contain ':' and '='.
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            var rest = equals > 0 ? entry[(equals + 1)..] : string.Empty;
            var colon = rest.IndexOf(':', StringComparison.Ordinal);
            var id = colon < 0 ? rest : rest[..colon];
            var secretPart = colon < 0 ? string.Empty : rest[(colon + 1)..];
            var asMethod = new[] { ClientAuthenticationMethods.ClientSecretBasic, ClientAuthenticationMethods.ClientSecretPost, ClientAuthenticationMethods.None }
                .FirstOrDefault(m => secretPart.EndsWith(":" + m, StringComparison.Ordinal) || secretPart == m);
            if (asMethod is not null)
            {
                secretPart = secretPart == asMethod ? string.Empty : secretPart[..^(asMethod.Length + 1)];
            }

            if (equals <= 0 || id.Length == 0)
            {
                return $"--as '{entry[..Math.Max(0, equals)]}=…': expected ISSUER=CLIENT_ID[:SECRET][:METHOD].";
            }

            profile.AuthorizationServers[entry[..equals]] = new StoredCredentials
            {
                ClientId = id,
                ProtectedSecret = secretPart.Length > 0 ? ClientProfile.Protect(directory, secretPart) : null,
                Method = asMethod ?? (secretPart.Length > 0 ? ClientAuthenticationMethods.ClientSecretBasic : ClientAuthenticationMethods.None),
            };
        }

        foreach (var entry in servers)
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return $"--server '{entry}': expected NAME=URL.";
            }

            profile.Servers.Add(new StoredServer { Name = entry[..equals], Resource = entry[(equals + 1)..] });
        }

        profile.Save(directory);
        return null;
    }

    private static Command Logout()
    {
        var command = new Command("logout", "Sign out: revoke the sign-in's refresh tokens at the IdP, then delete the session on this machine.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var directory = ProfileDirectory(parse);
            var (client, _) = Open(directory, interactive: false);
            if (client is null)
            {
                // No usable profile: nothing to revoke with; what is stored goes anyway.
                Console.Out.WriteLine(new EnterpriseSessionStore(directory).Delete() ? "Signed out: the session on this machine is deleted." : "Not signed in.");
                return ExitCodes.Ok;
            }

            using (client)
            {
                var result = await client.SignOutAsync(cancellationToken);
                Console.Out.WriteLine(!result.Forgotten ? "Not signed in."
                    : result.RevokedAtIdentityProvider ? "Signed out: the IdP revoked this sign-in's refresh tokens, and the session on this machine is deleted."
                    : $"Signed out on this machine (the session is deleted); the IdP did not revoke its refresh tokens ({result.NotRevokedBecause}).");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Status()
    {
        var command = new Command("status", "Who is signed in, where, and until when.") { JsonOption };
        command.SetAction(parse =>
        {
            var directory = ProfileDirectory(parse);
            var (client, error) = Open(directory, interactive: false);
            if (client is null)
            {
                return Fail(error!, ExitCodes.Usage);
            }

            using (client)
            {
                var session = client.Session;
                if (parse.GetValue(JsonOption))
                {
                    Console.Out.WriteLine(new JsonObject
                    {
                        ["profile"] = directory,
                        ["identityProvider"] = client.Options.IdentityProvider,
                        ["signedIn"] = session is not null,
                        ["user"] = session?.Username ?? session?.Subject,
                        ["idTokenExpiresAt"] = session?.IdTokenExpiresAt,
                        ["renewable"] = session?.RefreshToken is not null,
                    }.ToJsonString());
                }
                else if (session is null)
                {
                    Console.Out.WriteLine(client.StoredSessionUnreadable
                        ? $"Not signed in: the session in {directory} cannot be read on this machine (copied, or its key ring is gone). Run ema login."
                        : $"Not signed in to {client.Options.IdentityProvider}. Run ema login.");
                }
                else
                {
                    Console.Out.WriteLine(TerminalText.Safe($"Signed in as {session.Name ?? session.Username} ({session.Subject}) at {session.Issuer}; ID token valid until {session.IdTokenExpiresAt:u}{(session.RefreshToken is null ? string.Empty : ", renewed automatically")}."));
                }

                return session is null ? ExitCodes.SignInRequired : ExitCodes.Ok;
            }
        });
        return command;
    }

    private static Command Servers()
    {
        var command = new Command("servers", "Every MCP server you are entitled to: connected, blocked and why, or unreachable.") { JsonOption };
        command.SetAction((parse, cancellationToken) => WithClientAsync(parse, async client =>
        {
            var connections = await client.ConnectAllAsync(cancellationToken);
            try
            {
                if (parse.GetValue(JsonOption))
                {
                    Console.Out.WriteLine(new JsonArray([.. connections.Select(c => (JsonNode)ConnectionJson(c))]).ToJsonString());
                }
                else
                {
                    var table = new Table().AddColumns("server", "resource", "status", "detail");
                    foreach (var c in connections)
                    {
                        table.AddRow(Markup.Escape(TerminalText.Safe(c.Server.Name)), Markup.Escape(TerminalText.Safe(c.Server.Resource)), StatusMarkup(c.Status), Markup.Escape(TerminalText.Safe(c.Status == ConnectionStatus.Connected ? string.Empty : c.Summary)));
                    }

                    Output().Write(table);
                }

                return ExitCodes.Ok;
            }
            finally
            {
                await DisposeAllAsync(connections);
            }
        }));
        return command;
    }

    private static Command Tools()
    {
        var server = new Argument<string?>("server") { Description = "One server's name (default: all).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("tools", "The tools of your MCP servers (only those your scopes allow).") { server, JsonOption };
        command.SetAction((parse, cancellationToken) => WithClientAsync(parse, async client =>
        {
            var connections = await ConnectAsync(client, parse.GetValue(server), cancellationToken);
            if (connections is null)
            {
                return Fail($"No server named '{parse.GetValue(server)}'. See ema servers.", ExitCodes.Usage);
            }

            try
            {
                var rows = new List<(string Server, string Tool, string Description)>();
                foreach (var c in connections.Where(c => c.Status == ConnectionStatus.Connected))
                {
                    foreach (var tool in await c.Client!.ListToolsAsync(cancellationToken: cancellationToken))
                    {
                        rows.Add((c.Server.Name, tool.Name, tool.Description ?? string.Empty));
                    }
                }

                if (parse.GetValue(JsonOption))
                {
                    Console.Out.WriteLine(new JsonArray([.. rows.Select(r => (JsonNode)new JsonObject { ["server"] = r.Server, ["tool"] = r.Tool, ["description"] = r.Description })]).ToJsonString());
                }
                else
                {
                    var table = new Table().AddColumns("server", "tool", "description");
                    foreach (var (s, t, d) in rows)
                    {
                        table.AddRow(Markup.Escape(TerminalText.Safe(s)), Markup.Escape(TerminalText.Safe(t)), Markup.Escape(TerminalText.Safe(d)));
                    }

                    Output().Write(table);
                    foreach (var c in connections.Where(c => c.Status != ConnectionStatus.Connected))
                    {
                        Console.Error.WriteLine($"{TerminalText.Safe(c.Server.Name)}: {TerminalText.Safe(c.Summary)}");
                    }
                }

                return connections.Any(c => c.Status == ConnectionStatus.Connected) || connections.Count == 0 ? ExitCodes.Ok : CodeFor(connections[0]);
            }
            finally
            {
                await DisposeAllAsync(connections);
            }
        }));
        return command;
    }

    private static Command Call()
    {
        var server = new Argument<string>("server") { Description = "The server's name (see ema servers)." };
        var tool = new Argument<string>("tool") { Description = "The tool's name (see ema tools)." };
        var arguments = new Argument<string?>("json-args") { Description = "The arguments as a JSON object, e.g. '{\"id\":1}'.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("call", "Call one tool on one server.") { server, tool, arguments, JsonOption };
        command.SetAction((parse, cancellationToken) => WithClientAsync(parse, async client =>
        {
            Dictionary<string, object?> args;
            try
            {
                args = parse.GetValue(arguments) is { Length: > 0 } text
                    ? JsonNode.Parse(text) is JsonObject obj ? obj.ToDictionary(p => p.Key, p => (object?)p.Value?.DeepClone()) : throw new JsonException("not an object")
                    : [];
            }
            catch (JsonException)
            {
                return Fail("json-args must be a JSON object, e.g. '{\"id\":1}'.", ExitCodes.Usage);
            }

            var connections = await ConnectAsync(client, parse.GetValue(server), cancellationToken);
            if (connections is not [var connection])
            {
                return Fail($"No server named '{parse.GetValue(server)}'. See ema servers.", ExitCodes.Usage);
            }

            await using (connection)
            {
                if (connection.Status != ConnectionStatus.Connected)
                {
                    return Fail($"{connection.Server.Name}: {connection.Summary}", CodeFor(connection));
                }

                var result = await connection.Client!.CallToolAsync(parse.GetValue(tool)!, args, cancellationToken: cancellationToken);
                if (parse.GetValue(JsonOption))
                {
                    Console.Out.WriteLine(JsonSerializer.Serialize(result, ModelContextProtocol.McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult))));
                }
                else
                {
                    foreach (var block in result.Content)
                    {
                        Console.Out.WriteLine(block is TextContentBlock text ? TerminalText.Safe(text.Text, multiline: true) : $"[{TerminalText.Safe(block.Type)} content]");
                    }
                }

                return result.IsError == true ? ExitCodes.Failed : ExitCodes.Ok;
            }
        }));
        return command;
    }

    /// <summary>All servers, or the one whose name matches (case-insensitive); null when none matches.</summary>
    internal static async Task<IReadOnlyList<EmaConnection>?> ConnectAsync(EmaClient client, string? name, CancellationToken cancellationToken)
    {
        if (name is null)
        {
            return await client.ConnectAllAsync(cancellationToken);
        }

        var servers = await client.ListServersAsync(cancellationToken);
        var match = servers.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase) || s.Resource == name);
        return match is null ? null : [await client.ConnectAsync(match, cancellationToken)];
    }

    internal static JsonObject ConnectionJson(EmaConnection c) => new()
    {
        ["server"] = c.Server.Name,
        ["resource"] = c.Server.Resource,
        ["status"] = c.Status.ToString().ToLowerInvariant(),
        ["reason"] = c.Status == ConnectionStatus.Connected ? null : c.Summary,
        ["decisionId"] = c.Refusal?.DecisionId,
    };

    private static async Task<int> WithClientAsync(ParseResult parse, Func<EmaClient, Task<int>> body)
    {
        var (client, error) = Open(ProfileDirectory(parse), interactive: false);
        if (client is null)
        {
            return Fail(error!, ExitCodes.Usage);
        }

        using (client)
        {
            if (client.Session is null)
            {
                return Fail(client.StoredSessionUnreadable ? "The stored session cannot be read on this machine: run ema login." : "Not signed in: run ema login.", ExitCodes.SignInRequired);
            }

            try
            {
                return await body(client);
            }
            catch (Exception ex) when (IsExpected(ex))
            {
                return Fail(ex.Message, CodeFor(ex));
            }
        }
    }

    private static async Task DisposeAllAsync(IEnumerable<EmaConnection> connections)
    {
        foreach (var c in connections)
        {
            await c.DisposeAsync();
        }
    }

    internal static bool IsExpected(Exception ex) => ex is EmaSignInRequiredException or EmaAccessDeniedException or EmaProtocolException or HttpRequestException or InvalidOperationException or ModelContextProtocol.McpException or IOException or UnauthorizedAccessException; // the last: a profile folder this user cannot read or write

    private static int CodeFor(Exception ex) => ex switch
    {
        EmaSignInRequiredException => ExitCodes.SignInRequired,
        EmaAccessDeniedException => ExitCodes.Blocked,
        InvalidOperationException => ExitCodes.Usage,
        _ => ExitCodes.Unavailable,
    };

    private static int CodeFor(EmaConnection c) => c.Status == ConnectionStatus.Blocked ? ExitCodes.Blocked : ExitCodes.Unavailable;

    private static string StatusMarkup(ConnectionStatus status) => status switch
    {
        ConnectionStatus.Connected => "[green]connected[/]",
        ConnectionStatus.Blocked => "[red]blocked[/]",
        ConnectionStatus.Unreachable => "[yellow]unreachable[/]",
        _ => "[yellow]not supported[/]",
    };

    internal static IAnsiConsole Output()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = 160; // a file or a pipe has no width; wide tables stay on one line per row
        }

        return console;
    }

    internal static int Fail(string message, int code)
    {
        Console.Error.WriteLine("ema: " + TerminalText.Safe(message));
        return code;
    }
}
