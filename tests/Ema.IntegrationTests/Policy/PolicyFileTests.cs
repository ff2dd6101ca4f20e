using System.Diagnostics;
using Ema.Client;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;

namespace Ema.IntegrationTests.Policy;

/// <summary>The policy file in a real <c>ema serve</c>: invalid files stop the start; valid ones decide exchanges.</summary>
public sealed class PolicyFileTests
{
    [Fact]
    public async Task PolicyFile_Invalid_StopsTheStartWithLineNumbers()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "version: 1\ndefault: deny\nrules:\n  - id: a\n    effect: permit\n");
        var data = Directory.CreateTempSubdirectory("ema-policy-").FullName;
        try
        {
            using var process = Process.Start(new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "ema.dll"), "serve", "--data", data, "--urls", $"https://127.0.0.1:{EmaServerFixture.FreePort()}", "--Ema:IdentityProvider:PolicyFile=" + file]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            var stderr = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.Equal(2, process.ExitCode);
            Assert.Contains("line 5: 'effect' must be allow or deny", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task PolicyFile_Valid_DecidesExchanges_StepUpIsAskedAndBounded_CatalogFollowsTheRules()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, """
            version: 1
            default: deny
            rules:
              - id: engineering-wiki
                effect: allow
                subjects: { groups: [grp-engineering] }
                resources: [res-wiki]
              - id: engineering-tickets-with-mfa
                effect: allow
                subjects: { groups: [grp-engineering] }
                resources: [res-tickets]
                when: { mfa: true }
            """);
        try
        {
            using var ema = await EmaProcess.StartAsync("--Ema:IdentityProvider:PolicyFile=" + file);
            using var client = await ema.SignedInClientAsync("alice");
            var servers = await client.ListServersAsync();
            Assert.Equal(["Tickets", "Wiki"], servers.Select(s => s.Name).Order(StringComparer.Ordinal)); // the catalog lists what rules may allow

            var connections = await client.ConnectAllAsync();
            try
            {
                Assert.Equal(ConnectionStatus.Connected, connections.Single(c => c.Server.Name == "Wiki").Status);
                var tickets = connections.Single(c => c.Server.Name == "Tickets");
                Assert.Equal(ConnectionStatus.Blocked, tickets.Status);
                Assert.Equal(ErrorCodes.InsufficientUserAuthentication, tickets.Refusal!.Error); // password only: MFA asked, step-up tried, bounded
                Assert.StartsWith("dec_", tickets.Refusal.DecisionId, StringComparison.Ordinal);
            }
            finally
            {
                foreach (var c in connections)
                {
                    await c.DisposeAsync();
                }
            }
        }
        finally
        {
            File.Delete(file);
        }
    }
}
