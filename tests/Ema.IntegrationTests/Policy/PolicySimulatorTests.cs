using Ema.IntegrationTests.Infrastructure;

namespace Ema.IntegrationTests.Policy;

/// <summary><c>ema admin policy validate|simulate</c> against the running host's data folder: decisions and their reasons, nothing issued.</summary>
[Collection(EmaServerCollection.Name)]
public sealed class PolicySimulatorTests(EmaServerFixture server)
{
    private const string PolicyYaml = """
        version: 1
        default: deny
        rules:
          - id: finance-ledger-mfa
            effect: allow
            subjects: { groups: [grp-finance] }
            resources: [res-ledger]
            when: { mfa: true }
          - id: contractors-nothing
            effect: deny
            subjects: { groups: [grp-contractors] }
        """;

    [Fact]
    public async Task Simulator_ShowsTheDecisionAndWhy_WithoutIssuingAnything()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, PolicyYaml);
        try
        {
            var auditBefore = await server.AuditCountAsync();
            var withoutMfa = await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "policy", "simulate", "--file", file, "--user", "bob", "--client", "ema-agent", "--resource", "res-ledger", "--scope", "ledger.read");
            Assert.Equal(3, withoutMfa.Code);
            Assert.Contains("DENY insufficient_user_authentication", withoutMfa.Out, StringComparison.Ordinal);
            Assert.Contains("rule finance-ledger-mfa (allow, line 4) does not apply: auth: the sign-in did not use MFA", withoutMfa.Out, StringComparison.Ordinal);

            var withMfa = await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "policy", "simulate", "--file", file, "--user", "bob", "--client", "ema-agent", "--resource", "res-ledger", "--scope", "ledger.read", "--mfa");
            Assert.Equal(0, withMfa.Code);
            Assert.StartsWith("ALLOW ledger.read", withMfa.Out, StringComparison.Ordinal);

            var contractor = await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "policy", "simulate", "--file", file, "--user", "carol", "--client", "ema-agent", "--resource", "res-tickets");
            Assert.Contains("rule contractors-nothing (deny, line 9) denies the resource", contractor.Out, StringComparison.Ordinal);
            Assert.Equal(auditBefore, await server.AuditCountAsync()); // a simulation decides nothing
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Simulator_AnMfaSignIn_CarriesTheAcrTheSignInPageSets_SoAcrRulesAreSimulatedAsDecided()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "version: 1\ndefault: deny\nrules:\n  - { id: ledger-strong-auth, effect: allow, subjects: { groups: [grp-finance] }, resources: [res-ledger], when: { acr: [\"urn:ema:acr:mfa\"] } }\n");
        try
        {
            var withMfa = await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "policy", "simulate", "--file", file, "--user", "bob", "--client", "ema-agent", "--resource", "res-ledger", "--scope", "ledger.read", "--mfa");
            Assert.True(withMfa.Code == 0, withMfa.Out + withMfa.Err);
            Assert.StartsWith("ALLOW ledger.read", withMfa.Out, StringComparison.Ordinal);
            var withoutMfa = await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "policy", "simulate", "--file", file, "--user", "bob", "--client", "ema-agent", "--resource", "res-ledger", "--scope", "ledger.read");
            Assert.Contains("acr is urn:ema:acr:pwd", withoutMfa.Out, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Validate_ReportsEachErrorWithFileAndLine()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, PolicyYaml.Replace("effect: deny", "effect: block", StringComparison.Ordinal));
        try
        {
            var result = await EmaCli.RunAsync("admin", "policy", "validate", file);
            Assert.Equal(1, result.Code);
            Assert.Contains($"{file}:10: 'effect' must be allow or deny (got 'block')", result.Err, StringComparison.Ordinal);

            // Valid, but naming what this IdP does not have: warnings with the line, and the exit code stays 0.
            await File.WriteAllTextAsync(file, "version: 1\ndefault: deny\nrules:\n  - { id: typo, effect: deny, subjects: { groups: [grp-Finance], users: [bob] }, clients: [ema-agnet], resources: [res-nothing, \"" + server.BaseUrl + "/mcp/tickets/\"] }\n");
            var warned = await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "policy", "validate", file);
            Assert.True(warned.Code == 0, warned.Err);
            Assert.Contains($"{file}:4: warning: rule 'typo' names the group 'grp-Finance', which does not exist (did you mean 'grp-finance'? names are case-sensitive): this deny rule denies nothing for it", warned.Err, StringComparison.Ordinal);
            Assert.Contains("names the user 'bob', which does not exist (rules name users by id: 'usr-bob' is bob)", warned.Err, StringComparison.Ordinal);
            Assert.Contains("names the client 'ema-agnet'", warned.Err, StringComparison.Ordinal);
            Assert.Contains("names the resource 'res-nothing'", warned.Err, StringComparison.Ordinal);
            Assert.DoesNotContain("/mcp/tickets/'", warned.Err, StringComparison.Ordinal); // a trailing slash still names Tickets
        }
        finally
        {
            File.Delete(file);
        }
    }
}
