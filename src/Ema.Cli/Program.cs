using System.CommandLine;
using System.Reflection;
using Ema.Protocol;

namespace Ema.Cli;

/// <summary>Entry point of the <c>ema</c> command.</summary>
public static class Program
{
    /// <summary>The roles Ema runs, in the order the project builds them.</summary>
    internal static readonly (string Role, string Status)[] Roles =
    [
        ("Protocol vocabulary and token engine (ID-JAG, RFC 9068 access tokens, ID tokens, key ring, JWKS, replay cache)", "available"),
        ("Enterprise IdP: OIDC sign-in, directory, ID-JAG issuance by token exchange (ema serve --roles idp)", "available"),
        ("Authorization server for MCP servers: jwt-bearer redemption of ID-JAGs (ema serve --roles as)", "available"),
        ("Resource-server support for MCP servers: protected-resource metadata, bearer validation, per-tool scopes (ema serve --roles samples)", "available"),
        ("Client: log in once, connect to every entitled MCP server; ema CLI and bridge", "available"),
        ("Central policy, admin console (/admin) and tamper-evident audit trail", "available"),
    ];

    /// <summary>Runs the command line.</summary>
    public static Task<int> Main(string[] args)
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
        root.Subcommands.Add(Quickstart.Command());
        root.Subcommands.Add(ServeCommand());
        root.Subcommands.Add(AdminCommands.Create());
        root.Subcommands.Add(AuditCommands.Create());
        root.Options.Add(ClientCommands.ProfileOption);
        foreach (var command in ClientCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        return root.Parse(args).InvokeAsync();
    }

    private static Command ServeCommand()
    {
        var data = new Option<string?>("--data") { Description = "Data folder (database, keys, TLS material). Default: ~/.local/share/ema." };
        var urls = new Option<string?>("--urls") { Description = "Listen URL, for example https://127.0.0.1:7443." };
        var seed = new Option<string?>("--seed") { Description = "'demo' creates a demo organization on first start." };
        var rolesOption = new Option<string?>("--roles") { Description = "Roles to run, comma separated: idp, as, samples (default: all three)." };
        var serve = new Command("serve", "Run Ema's roles over https (other --Ema:Key=value settings are passed to configuration).")
        {
            data, urls, seed, rolesOption,
        };
        serve.TreatUnmatchedTokensAsErrors = false;
        serve.SetAction(async (parse, cancellationToken) =>
        {
            var hostArgs = new List<string>(parse.UnmatchedTokens);
            AddSetting(hostArgs, "Ema:DataDirectory", parse.GetValue(data));
            AddSetting(hostArgs, "Ema:Urls", parse.GetValue(urls));
            AddSetting(hostArgs, "Ema:Seed", parse.GetValue(seed));
            AddSetting(hostArgs, "Ema:Roles", parse.GetValue(rolesOption));
            try
            {
                var app = EmaHost.Build([.. hostArgs]);
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
                var settings = app.Services.GetRequiredService<EmaHostOptions>();
                Console.Out.WriteLine($"{VersionText()} serving {settings.Urls} (data: {settings.ResolveDataDirectory()})");
                if (string.Equals(settings.Seed, "demo", StringComparison.OrdinalIgnoreCase))
                {
                    Console.Out.WriteLine($"Demo organization seeded; credentials are in {Path.Combine(settings.ResolveDataDirectory(), DemoSeed.CredentialsFile)} (readable only by you).");
                }

                await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
                return 0;
            }
            catch (Exception ex) when (ex is InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException or IOException)
            {
                await Console.Error.WriteLineAsync("ema serve: " + ex.Message).ConfigureAwait(false);
                return 2;
            }
        });
        return serve;
    }

    private static void AddSetting(List<string> args, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            args.Add($"--{key}={value}");
        }
    }

    internal static string VersionText() =>
        "ema " + (typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0");

    internal static void PrintSummary(TextWriter output)
    {
        output.WriteLine(VersionText());
        output.WriteLine("MCP Enterprise-Managed Authorization: sign in once; the organization's IdP decides which MCP servers each client may reach.");
        output.WriteLine();
        foreach (var (role, status) in Roles)
        {
            output.WriteLine($"  [{status,-9}] {role}");
        }

        output.WriteLine();
        output.WriteLine("Run the IdP with a demo organization:  ema serve --seed demo");
    }
}
