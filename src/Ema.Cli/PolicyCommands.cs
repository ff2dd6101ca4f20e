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

            var directory = s.GetRequiredService<IDirectoryStore>();
            var applications = s.GetRequiredService<IApplicationStore>();
            var found = await directory.FindUserByUsernameAsync(p.GetValue(user)!, ct);
            var app = await applications.FindClientAsync(p.GetValue(client)!, ct);
            var target = await applications.FindResourceAsync(p.GetValue(resource)!, ct) ?? await applications.FindResourceByIdentifierAsync(p.GetValue(resource)!, ct);
            if (found is null || app is null || target is null)
            {
                Console.Error.WriteLine($"ema admin policy: unknown {(found is null ? "user" : app is null ? "client" : "resource")}.");
                return 2;
            }

            var now = p.GetValue(at) is { } text ? DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal) : TimeProvider.System.GetUtcNow();
            var request = new AccessRequest
            {
                User = found,
                GroupIds = await directory.GetGroupIdsAsync(found.Id, ct),
                Roles = await directory.GetRolesAsync(found.Id, ct),
                Client = app,
                Resource = target,
                RequestedScopes = p.GetValue(scopes) ?? [],
                Authentication = new AuthenticationContext(now.AddMinutes(-p.GetValue(authAge)), p.GetValue(mfa) ? ["pwd", "mfa"] : ["pwd"], null),
                RemoteAddress = p.GetValue(ip),
                Now = now,
            };
            var decision = await new RulePolicy(document, applications).EvaluateAsync(request, ct);
            o.WriteLine(decision.Allowed
                ? $"ALLOW {string.Join(' ', decision.GrantedScopes)}"
                : $"DENY {decision.Error!.Code}: {decision.Error.Description}{(decision.Error.MaxAge is { } age ? $" (max_age {age})" : string.Empty)}{(decision.Error.AcrValues is { } acr ? $" (acr_values {acr})" : string.Empty)}");
            foreach (var line in decision.Explanation)
            {
                o.WriteLine("  " + line);
            }

            return decision.Allowed ? 0 : 3;
        }, ct));

        policy.Subcommands.Add(validate);
        policy.Subcommands.Add(simulate);
        return policy;
    }
}
