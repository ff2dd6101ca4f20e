using System.CommandLine;
using System.Globalization;
using Ema.Server.Policy;
using Ema.Server.Stores;

namespace Ema.Cli;

/// <summary>
/// <c>ema admin policy validate|simulate</c>: check a policy file (every error with its line, nothing applied) and ask
/// "what if" — the decision and its explanation for a user, client, resource, scopes and context, issuing nothing.
/// </summary>
internal static class PolicyCommands
{
    public static Command Create(Option<string?> data)
    {
        var policy = new Command("policy", "Policy as code: validate a policy file, simulate decisions.");

        var file = new Argument<string>("file") { Description = "The YAML policy file." };
        var validate = new Command("validate", "Check a policy file; print every error with its line.") { file };
        validate.SetAction(p =>
        {
            var path = p.GetValue(file)!;
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"ema admin policy: {path} does not exist.");
                return 2;
            }

            var (document, errors) = PolicyYaml.Parse(File.ReadAllText(path));
            foreach (var error in errors)
            {
                Console.Error.WriteLine($"{path}:{error.Line}: {error.Message}");
            }

            if (document is not null)
            {
                Console.Out.WriteLine($"{path}: valid — {document.Rules.Count} rules, default deny.");
            }

            return document is null ? 1 : 0;
        });

        var policyFile = new Option<string>("--file") { Required = true, Description = "The YAML policy file to evaluate." };
        var user = new Option<string>("--user") { Required = true, Description = "Username." };
        var client = new Option<string>("--client") { Required = true, Description = "Client id." };
        var resource = new Option<string>("--resource") { Required = true, Description = "Resource application id or resource identifier." };
        var scopes = new Option<string[]>("--scope") { AllowMultipleArgumentsPerToken = true, Description = "Requested scopes (default: none requested)." };
        var mfa = new Option<bool>("--mfa") { Description = "The sign-in used MFA." };
        var authAge = new Option<int>("--auth-age-minutes") { Description = "Minutes since the sign-in.", DefaultValueFactory = _ => 1 };
        var ip = new Option<string?>("--ip") { Description = "The client's address." };
        var at = new Option<string?>("--at") { Description = "When (ISO 8601, default now)." };
        var simulate = new Command("simulate", "What if: the decision and why, without issuing anything.") { policyFile, user, client, resource, scopes, mfa, authAge, ip, at };
        simulate.SetAction((p, ct) => AdminCommands.RunWithStorage(p.GetValue(data), async (s, o) =>
        {
            var (document, errors) = PolicyYaml.Parse(await File.ReadAllTextAsync(p.GetValue(policyFile)!, ct));
            if (document is null)
            {
                Console.Error.WriteLine("ema admin policy: the file is invalid: " + string.Join("; ", errors));
                return 1;
            }

            var applications = s.GetRequiredService<IApplicationStore>();
            var simulator = new PolicySimulator(s.GetRequiredService<IDirectoryStore>(), applications, TimeProvider.System);
            var result = await simulator.SimulateAsync(new RulePolicy(document, applications), new SimulationInput
            {
                User = p.GetValue(user)!,
                ClientId = p.GetValue(client)!,
                Resource = p.GetValue(resource)!,
                Scopes = p.GetValue(scopes) ?? [],
                Mfa = p.GetValue(mfa),
                AuthenticationAge = TimeSpan.FromMinutes(p.GetValue(authAge)),
                RemoteAddress = p.GetValue(ip),
                At = p.GetValue(at) is { } text ? DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal) : null,
            }, ct);
            if (result.Decision is not { } decision)
            {
                Console.Error.WriteLine($"ema admin policy: {result.Problem}");
                return 2;
            }

            o.WriteLine(decision.Allowed
                ? $"ALLOW {string.Join(' ', decision.GrantedScopes)}"
                : $"DENY {decision.Error!.Code}: {decision.Error.Description}{(decision.Error.MaxAge is { } age ? $" (max_age {age})" : string.Empty)}{(decision.Error.AcrValues is { } acr ? $" (acr_values {acr})" : string.Empty)}");
            foreach (var line in decision.Explanation)
            {
                o.WriteLine("  " + line);
            }

            return decision.Allowed ? 0 : 3;
        }, ct));

        var by = new Option<string>("--by") { Description = "Who makes the change (recorded with the version and in the audit trail; default: the OS user).", DefaultValueFactory = _ => Environment.UserName };
        var remote = new Option<bool>("--remote") { Description = "Through the admin API of the IdP you signed in to with ema admin login (you are recorded, not --by), instead of the data folder." };
        var comment = new Option<string?>("--comment") { Description = "Why." };
        var importFile = new Argument<string>("file") { Description = "The YAML policy file." };
        var import = new Command("import", "Validate a policy file and make it the policy in force, as a new version (nothing is applied if it has errors).") { importFile, by, comment, remote };
        import.SetAction(async (p, ct) =>
        {
            var path = p.GetValue(importFile)!;
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"ema admin policy: {path} does not exist.");
                return 2;
            }

            var yaml = await File.ReadAllTextAsync(path, ct);
            return p.GetValue(remote)
                ? await AdminRemoteCommands.ChangeAsync(p, "PUT", "/policy", new Ema.Admin.Api.ImportPolicyRequest(yaml, p.GetValue(comment)), ct)
                : await AdminCommands.RunWithStorage(p.GetValue(data), (s, o) => AdminCommands.ChangeAsync(s, o, p.GetValue(by)!, (ops, who) => ops.ImportPolicyAsync(who, yaml, p.GetValue(comment), ct), errorSource: path), ct);
        });

        var exportVersion = new Option<long?>("--version") { Description = "A version (default: the one in force)." };
        var export = new Command("export", "Print a policy version's YAML.") { exportVersion };
        export.SetAction((p, ct) => AdminCommands.RunWithStorage(p.GetValue(data), async (s, o) =>
        {
            var store = s.GetRequiredService<IPolicyStore>();
            var version = p.GetValue(exportVersion) is { } v ? await store.GetAsync(v, ct) : await store.GetCurrentAsync(ct);
            if (version is null)
            {
                Console.Error.WriteLine("ema admin policy: no such version (no policy imported yet: entitlements v1 decide).");
                return 1;
            }

            o.Write(version.Yaml);
            return 0;
        }, ct));

        var history = new Command("history", "Every policy version: who, when, why.") { remote };
        history.SetAction((p, ct) => p.GetValue(remote) ? AdminRemoteCommands.ListAsync(p, "/policy/versions", ct) : AdminCommands.RunWithStorage(p.GetValue(data), async (s, o) =>
        {
            var versions = await s.GetRequiredService<IPolicyStore>().ListAsync(ct);
            foreach (var v in versions)
            {
                o.WriteLine($"{v.Version,4}{(v == versions[^1] ? "*" : " ")} {v.CreatedAt:yyyy-MM-dd HH:mm:ss} {v.CreatedBy,-12} {v.Sha256[..12]} {v.Comment}");
            }

            return 0;
        }, ct));

        var to = new Option<long>("--to") { Required = true, Description = "The version to restore." };
        var rollback = new Command("rollback", "Put an older version back in force (as a new version: the history only grows).") { to, by, remote };
        rollback.SetAction((p, ct) => p.GetValue(remote)
            ? AdminRemoteCommands.ChangeAsync(p, "POST", "/policy/rollback", new Ema.Admin.Api.RollbackPolicyRequest(p.GetValue(to)), ct)
            : AdminCommands.RunWithStorage(p.GetValue(data), (s, o) => AdminCommands.ChangeAsync(s, o, p.GetValue(by)!, (ops, who) => ops.RollbackPolicyAsync(who, p.GetValue(to), ct)), ct));

        policy.Subcommands.Add(validate);
        policy.Subcommands.Add(simulate);
        policy.Subcommands.Add(import);
        policy.Subcommands.Add(export);
        policy.Subcommands.Add(history);
        policy.Subcommands.Add(rollback);
        return policy;
    }
}
