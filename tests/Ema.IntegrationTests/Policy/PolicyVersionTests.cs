using Ema.Client;
using Ema.IntegrationTests.Infrastructure;

namespace Ema.IntegrationTests.Policy;

/// <summary>Policy as code, versioned, against a running <c>ema serve</c>: import, nothing applied on errors, history, rollback.</summary>
public sealed class PolicyVersionTests
{
    [Fact]
    public async Task PolicyImport_TakesEffectWithoutRestart_InvalidAppliesNothing_RollbackRestores()
    {
        using var ema = await EmaProcess.StartAsync();
        using var client = await ema.SignedInClientAsync("alice");
        Assert.Equal(["Tickets", "Wiki"], (await client.ListServersAsync()).Select(s => s.Name).Order(StringComparer.Ordinal)); // entitlements v1

        var invalid = await WriteAsync("version: 1\ndefault: deny\nrules:\n  - id: x\n    effect: allow\n    when: { networks: [not-a-cidr] }\n");
        var rejected = await EmaCli.RunAsync("admin", "--data", ema.Data, "policy", "import", invalid, "--by", "admin");
        Assert.Equal(1, rejected.Code);
        Assert.Contains($"{invalid}:6:", rejected.Err, StringComparison.Ordinal);
        Assert.Contains("nothing was applied", rejected.Err, StringComparison.Ordinal);
        Assert.Equal(string.Empty, (await EmaCli.RunAsync("admin", "--data", ema.Data, "policy", "history")).Out);

        var wikiOnly = await WriteAsync("version: 1\ndefault: deny\nrules:\n  - { id: engineering-wiki, effect: allow, subjects: { groups: [grp-engineering] }, resources: [res-wiki] }\n");
        Assert.Equal(0, (await EmaCli.RunAsync("admin", "--data", ema.Data, "policy", "import", wikiOnly, "--by", "admin", "--comment", "tickets off for now")).Code);
        Assert.Equal(["Wiki"], await WaitForCatalogAsync(client, ["Wiki"]));

        var everything = await WriteAsync("version: 1\ndefault: deny\nrules:\n  - { id: engineering-all, effect: allow, subjects: { groups: [grp-engineering] } }\n");
        Assert.Equal(0, (await EmaCli.RunAsync("admin", "--data", ema.Data, "policy", "import", everything, "--by", "admin")).Code);
        Assert.Contains("Ledger", await WaitForCatalogAsync(client, ["Ledger", "Tickets", "Wiki"]));

        var rollback = await EmaCli.RunAsync("admin", "--data", ema.Data, "policy", "rollback", "--to", "1", "--by", "admin");
        Assert.Equal(0, rollback.Code);
        Assert.Contains("version 3 (a copy of version 1)", rollback.Out, StringComparison.Ordinal);
        Assert.Equal(["Wiki"], await WaitForCatalogAsync(client, ["Wiki"]));

        var history = (await EmaCli.RunAsync("admin", "--data", ema.Data, "policy", "history")).Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, history.Length);
        Assert.Contains("rollback to version 1", history[2], StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllTextAsync(wikiOnly), (await EmaCli.RunAsync("admin", "--data", ema.Data, "policy", "export")).Out);

        // Without --file the what-if asks the policy in force (the rolled-back wiki-only version), not entitlements v1.
        var inForce = await EmaCli.RunAsync("admin", "--data", ema.Data, "policy", "simulate", "--user", "alice", "--client", "ema-agent", "--resource", "res-tickets");
        Assert.Equal(3, inForce.Code);
        Assert.StartsWith("DENY ", inForce.Out, StringComparison.Ordinal);
        var wiki = await EmaCli.RunAsync("admin", "--data", ema.Data, "policy", "simulate", "--user", "alice", "--client", "ema-agent", "--resource", "res-wiki");
        Assert.True(wiki.Code == 0, wiki.Out + wiki.Err);
        Assert.Contains("engineering-wiki", wiki.Out, StringComparison.Ordinal);
        var audit = await EmaCli.RunAsync("audit", "verify", "--data", ema.Data);
        Assert.True(audit.Code == 0, audit.Err); // the admin changes are in the chain too
    }

    private static async Task<IReadOnlyList<string>> WaitForCatalogAsync(EmaClient client, string[] expected)
    {
        IReadOnlyList<string> names = [];
        for (var i = 0; i < 100; i++)
        {
            names = [.. (await client.ListServersAsync()).Select(s => s.Name).Order(StringComparer.Ordinal)];
            if (names.SequenceEqual(expected))
            {
                break;
            }

            await Task.Delay(100);
        }

        return names;
    }

    private static async Task<string> WriteAsync(string yaml)
    {
        var path = Path.Combine(Path.GetTempPath(), "ema-policy-" + Guid.CreateVersion7().ToString("N") + ".yaml");
        await File.WriteAllTextAsync(path, yaml);
        return path;
    }
}
