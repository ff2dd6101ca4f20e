using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Ema.Server.Policy;
using Ema.Server.Stores;

namespace Ema.Cli;

/// <summary>
/// <c>ema admin policy validate|simulate</c>: check a policy file (every error with its line, nothing applied) and ask
/// "what if" — the decision and its explanation for a user, client, resource, scopes and context, issuing nothing.
/// </summary>
internal static class PolicyCommands
{
    public static Command Create(Option<string?> data, Option<bool> remote)
    {
        var policy = new Command("policy", "Policy as code: validate, import, export, roll back; simulate decisions.");

        var file = new Argument<string>("file") { Description = "The YAML policy file." };
        var validate = new Command("validate", "Check a policy file; print every error with its line (--remote: with the server's parser).") { file, remote };
        validate.SetAction(async (p, ct) =>
        {
            var path = p.GetValue(file)!;
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"ema admin policy: {path} does not exist.");
                return 2;
            }

            var yaml = await File.ReadAllTextAsync(path, ct);
            if (p.GetValue(remote))
            {
                var outcome = 0;
                var called = await AdminRemoteCommands.CallAsync(p, "POST", "/policy/validate", JsonSerializer.Serialize(new Ema.Admin.Api.ValidatePolicyRequest(yaml), AdminRemoteCommands.Web), json =>
                {
                    static List<PolicyError> Read(JsonElement json, string name) => json.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array
                        ? [.. list.EnumerateArray().Select(e => new PolicyError(e.GetProperty("line").GetInt32(), e.GetProperty("message").GetString() ?? string.Empty))]
                        : [];
                    outcome = Report(path, json.GetProperty("valid").GetBoolean() ? json.GetProperty("rules").GetInt32() : null, Read(json, "errors"), Read(json, "warnings"));
                }, ct);
                return called == 0 ? outcome : called;
            }

            var (document, localErrors) = PolicyYaml.Parse(yaml);

            // Given a data folder (--data), also name what the rules refer to that does not exist there (warnings).
            IReadOnlyList<PolicyError> warnings = [];
            if (document is not null && p.GetValue(data) is { } folder && AdminCommands.HasDatabase(folder))
            {
                await AdminCommands.RunWithStorage(folder, async (s, _) =>
                {
                    warnings = await PolicyReferences.FindUnknownAsync(document, s.GetRequiredService<IDirectoryStore>(), s.GetRequiredService<IApplicationStore>(), ct);
                    return 0;
                }, ct);
            }

            return Report(path, document?.Rules.Count, localErrors, warnings);
        });

        var policyFile = new Option<string?>("--file") { Description = "A candidate YAML policy file to evaluate (default: the policy in force)." };
        var user = new Option<string>("--user") { Required = true, Description = "Username." };
        var client = new Option<string>("--client") { Required = true, Description = "Client id." };
        var resource = new Option<string>("--resource") { Required = true, Description = "Resource application id or resource identifier." };
        var scopes = new Option<string[]>("--scope") { AllowMultipleArgumentsPerToken = true, Description = "Requested scopes (default: none requested)." };
        var mfa = new Option<bool>("--mfa") { Description = "The sign-in used MFA." };
        var authAge = new Option<int>("--auth-age-minutes") { Description = "Minutes since the sign-in.", DefaultValueFactory = _ => 1 };
        var ip = new Option<string?>("--ip") { Description = "The client's address." };
        var at = new Option<string?>("--at") { Description = "When (ISO 8601, default now)." };
        var simulate = new Command("simulate", "What if: the decision and why, without issuing anything.") { policyFile, user, client, resource, scopes, mfa, authAge, ip, at, remote };
        simulate.SetAction(async (p, ct) =>
        {
            DateTimeOffset? when = null;
            if (p.GetValue(at) is { } text)
            {
                if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
                {
                    Console.Error.WriteLine($"ema admin policy: --at '{text}' is not a date and time (ISO 8601, for example 2026-11-30T09:00:00Z).");
                    return 2;
                }

                when = parsed;
            }

            string? yaml = null;
            if (p.GetValue(policyFile) is { } path)
            {
                if (!File.Exists(path))
                {
                    Console.Error.WriteLine($"ema admin policy: {path} does not exist.");
                    return 2;
                }

                yaml = await File.ReadAllTextAsync(path, ct);
            }

            if (p.GetValue(remote))
            {
                var request = new Ema.Admin.Api.SimulationRequest(p.GetValue(user)!, p.GetValue(client)!, p.GetValue(resource)!, p.GetValue(scopes) ?? [], p.GetValue(mfa), p.GetValue(authAge), p.GetValue(ip), yaml, when);
                var outcome = 0;
                var called = await AdminRemoteCommands.CallAsync(p, "POST", "/policy/simulate", JsonSerializer.Serialize(request, AdminRemoteCommands.Web), json =>
                {
                    outcome = PrintDecision(Console.Out, json.Deserialize<Ema.Admin.Api.DecisionView>(AdminRemoteCommands.Web)!);
                }, ct);
                return called == 0 ? outcome : called;
            }

            return await AdminCommands.RunWithStorage(p.GetValue(data), async (s, o) =>
            {
                var applications = s.GetRequiredService<IApplicationStore>();

                // Without --file: the newest stored version, else entitlements v1 (a server's Ema:IdentityProvider:PolicyFile
                // is not known here: --remote asks the server itself).
                IAccessPolicy policy = new ManagedAccessPolicy(null, s.GetRequiredService<IPolicyStore>(), applications, s.GetRequiredService<IEntitlementStore>(), TimeProvider.System);
                if (yaml is not null)
                {
                    var (document, errors) = PolicyYaml.Parse(yaml);
                    if (document is null)
                    {
                        Console.Error.WriteLine("ema admin policy: the file is invalid: " + string.Join("; ", errors));
                        return 1;
                    }

                    policy = new RulePolicy(document, applications);
                }

                var simulator = new PolicySimulator(s.GetRequiredService<IDirectoryStore>(), applications, TimeProvider.System);
                var result = await simulator.SimulateAsync(policy, new SimulationInput
                {
                    User = p.GetValue(user)!,
                    ClientId = p.GetValue(client)!,
                    Resource = p.GetValue(resource)!,
                    Scopes = p.GetValue(scopes) ?? [],
                    Mfa = p.GetValue(mfa),
                    AuthenticationAge = TimeSpan.FromMinutes(p.GetValue(authAge)),
                    RemoteAddress = p.GetValue(ip),
                    At = when,
                }, ct);
                if (result.Decision is not { } decision)
                {
                    Console.Error.WriteLine($"ema admin policy: {result.Problem}");
                    return 2;
                }

                return PrintDecision(o, Ema.Admin.Api.DecisionView.From(decision));
            }, ct);
        });

        var by = new Option<string>("--by") { Description = "Who makes the change (recorded with the version and in the audit trail; default: the OS user).", DefaultValueFactory = _ => Environment.UserName };
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
        var export = new Command("export", "Print a policy version's YAML.") { exportVersion, remote };
        export.SetAction((p, ct) => p.GetValue(remote)
            ? AdminRemoteCommands.CallAsync(p, "GET", p.GetValue(exportVersion) is { } remoteVersion ? $"/policy/versions/{remoteVersion}" : "/policy", null, json => Console.Out.Write(json.GetProperty("yaml").GetString()), ct)
            : AdminCommands.RunWithStorage(p.GetValue(data), async (s, o) =>
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

    // Errors as compilers print them (file:line: message), then the verdict; exit 0 valid, 1 not.
    private static int Report(string path, int? rules, IReadOnlyList<PolicyError> errors, IReadOnlyList<PolicyError> warnings)
    {
        foreach (var error in errors)
        {
            Console.Error.WriteLine(TerminalText.Safe($"{path}:{error.Line}: {error.Message}"));
        }

        foreach (var warning in warnings)
        {
            Console.Error.WriteLine(TerminalText.Safe($"{path}:{warning.Line}: warning: {warning.Message}"));
        }

        if (rules is { } count)
        {
            Console.Out.WriteLine($"{path}: valid — {count} rules, default deny.");
        }

        return rules is null ? 1 : 0;
    }

    // ALLOW with the granted scopes, or DENY with the error a token request would get (and its step-up hints); then the
    // explanation. Exit 0 allowed, 3 denied.
    private static int PrintDecision(TextWriter o, Ema.Admin.Api.DecisionView d)
    {
        o.WriteLine(d.Allowed
            ? $"ALLOW {string.Join(' ', d.GrantedScopes)}"
            : $"DENY {d.Error}: {d.ErrorDescription}{(d.MaxAge is { } age ? $" (max_age {age})" : string.Empty)}{(d.AcrValues is { } acr ? $" (acr_values {acr})" : string.Empty)}");
        foreach (var line in d.Explanation)
        {
            o.WriteLine("  " + line);
        }

        return d.Allowed ? 0 : 3;
    }
}
