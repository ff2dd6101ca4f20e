using System.CommandLine;
using System.Reflection;
using Ema.Protocol;

namespace Ema.Cli;

/// <summary>Entry point of the <c>ema</c> command (composition root only).</summary>
public static class Program
{
    /// <summary>The roles Ema runs, in the order the project builds them.</summary>
    internal static readonly (string Role, string Status)[] Roles =
    [
        ("Protocol vocabulary and token engine (ID-JAG, RFC 9068 access tokens, ID tokens, key ring, JWKS, replay cache)", "available"),
        ("Enterprise IdP: OIDC sign-in, directory, ID-JAG issuance by token exchange", "planned"),
        ("Authorization server for MCP servers: jwt-bearer redemption of ID-JAGs", "planned"),
        ("Resource-server support for MCP servers: protected-resource metadata, bearer validation, per-tool scopes", "planned"),
        ("Client: log in once, connect to every entitled MCP server; ema CLI and bridge", "planned"),
        ("Central policy, admin console and tamper-evident audit trail", "planned"),
    ];

    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args)
    {
        var root = new RootCommand("Ema: MCP Enterprise-Managed Authorization (" + McpExtensions.EnterpriseManagedAuthorization + ").");
        root.SetAction(_ =>
        {
            PrintSummary(Console.Out);
            return 0;
        });

        var version = new Command("version", "Print the Ema version.");
        version.SetAction(_ =>
        {
            Console.Out.WriteLine(VersionText());
            return 0;
        });
        root.Subcommands.Add(version);

        var roles = new Command("roles", "List the roles Ema runs and which are available in this build.");
        roles.SetAction(_ =>
        {
            PrintSummary(Console.Out);
            return 0;
        });
        root.Subcommands.Add(roles);

        return root.Parse(args).Invoke();
    }

    internal static string VersionText() =>
        "ema " + (typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0");

    internal static void PrintSummary(TextWriter output)
    {
        output.WriteLine(VersionText());
        output.WriteLine("MCP Enterprise-Managed Authorization: sign in once; the organization's IdP decides which MCP servers each client may reach.");
        output.WriteLine();
        foreach (var (role, status) in Roles)
        {
            output.WriteLine($"  [{status,-9}] {role}");
        }
    }
}
