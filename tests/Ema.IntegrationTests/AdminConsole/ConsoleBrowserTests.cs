using System.Net;
using System.Text.RegularExpressions;
using Ema.Client;
using Ema.IntegrationTests.Client;
using Ema.IntegrationTests.Infrastructure;
using Ema.Server.Audit;
using Ema.Server.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using ModelContextProtocol.Client;

namespace Ema.IntegrationTests.AdminConsole;

/// <summary>A host of its own for the browser scenario (it replaces entitlements with a policy).</summary>
public sealed class BrowserServerFixture : EmaServerFixture;

/// <summary>
/// The console in a real browser (Debian chromium, headless, driven by Playwright): an admin signs in with MFA,
/// creates a group and a policy granting it an MCP server; a member gets an ID-JAG and a non-member is denied with the
/// explanation; the simulator agrees; the audit page follows one decision through IdP → AS → MCP server.
/// Screenshots go to <c>EMA_SCREENSHOTS</c> when set (docs/images is made that way), else to a temporary folder.
/// </summary>
public sealed class ConsoleBrowserTests(BrowserServerFixture server) : IClassFixture<BrowserServerFixture>
{
    private const string Chromium = "/usr/bin/chromium";

    private const string ResearchPolicy = """
        version: 1
        default: deny
        rules:
          - id: research-tickets
            description: Research reads tickets through the Ema agent
            effect: allow
            subjects: { groups: [grp-research] }
            clients: [ema-agent]
            resources: [res-tickets]
            scopes: [tickets.read]
          - id: everyone-wiki
            description: Everyone reads the wiki
            effect: allow
            resources: [res-wiki]
        """;

    private readonly string _shots = Environment.GetEnvironmentVariable("EMA_SCREENSHOTS") is { Length: > 0 } dir ? Path.GetFullPath(dir) : Path.Combine(Path.GetTempPath(), "ema-shots-" + Guid.CreateVersion7().ToString("N"));

    [Fact]
    public async Task Browser_AdminGrantsAGroupAServer_MemberGetsAnIdJag_OutsiderIsDeniedWithTheExplanation_AuditFollowsTheDecision()
    {
        Assert.True(File.Exists(Chromium), "Debian chromium is required (.ci/run installs it: apt-get install chromium).");
        Directory.CreateDirectory(_shots);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });

        // The browser does not know Ema's local CA; certificate errors are accepted for this loopback host only.
        await using var adminContext = await browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true, ViewportSize = new() { Width = 1360, Height = 900 }, JavaScriptEnabled = false });
        var page = await adminContext.NewPageAsync();

        // 1. The admin signs in through the IdP: password and the code of her authenticator (the demo seed enrolled it).
        await page.GotoAsync(server.BaseUrl + "/admin");
        Assert.Contains("/idp/signin", page.Url, StringComparison.Ordinal);
        await page.FillAsync("#username", "alice");
        await page.FillAsync("#password", server.Password("alice"));
        await page.FillAsync("#otp", Totp.Code(Totp.FromBase32(server.TotpSecrets["alice"]), Totp.StepAt(TimeProvider.System.GetUtcNow())));
        await ShotAsync(page, "signin-mfa");
        await page.ClickAsync("#submit");
        Assert.EndsWith("/admin", page.Url, StringComparison.Ordinal);
        Assert.Contains("MFA", await page.Locator("#signed-in-as").InnerTextAsync(), StringComparison.Ordinal);

        // 2. A group, with bob in it.
        await page.GotoAsync(server.BaseUrl + "/admin/groups");
        await page.FillAsync("form[action*='handler=Create'] input[name=id]", "grp-research");
        await page.FillAsync("form[action*='handler=Create'] input[name=name]", "research");
        await page.ClickAsync("form[action*='handler=Create'] button");
        Assert.Contains("Created group grp-research", await page.Locator("#outcome").InnerTextAsync(), StringComparison.Ordinal);
        await page.FillAsync("input[aria-label='username for grp-research']", "bob");
        await page.ClickAsync("form:has(input[value='grp-research']) button");
        Assert.Contains("Added bob to research", await page.Locator("#outcome").InnerTextAsync(), StringComparison.Ordinal);
        await ShotAsync(page, "console-groups");

        // 3. A policy: an invalid one is refused with its line and applies nothing; then the real one.
        await page.GotoAsync(server.BaseUrl + "/admin/policies");
        await page.FillAsync("textarea[name=yaml]", "version: 1\ndefault: deny\nrules:\n  - id: broken\n    effect: maybe\n");
        await page.ClickAsync("button[formaction*='handler=Validate']");
        Assert.Contains("line 5", await page.Locator("#policy-errors").InnerTextAsync(), StringComparison.Ordinal);
        await page.ClickAsync("button[formaction*='handler=Apply']");
        Assert.Contains("nothing was applied", await page.Locator("#outcome").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Empty(await server.App.Services.GetRequiredService<Ema.Server.Policy.IPolicyStore>().ListAsync(default));
        await page.FillAsync("textarea[name=yaml]", ResearchPolicy);
        await page.FillAsync("input[name=comment]", "research gets tickets");
        await page.ClickAsync("button[formaction*='handler=Apply']");
        Assert.Contains("Policy version 1 is in force", await page.Locator("#outcome").InnerTextAsync(), StringComparison.Ordinal);
        await ShotAsync(page, "console-policies");

        // 4. The IdP now decides by the policy (running servers follow a new version within seconds).
        var (bobClient, bobConnection) = await ConnectWhenAsync("bob", ConnectionStatus.Connected);
        await bobConnection.Client!.CallToolAsync("get_ticket", new Dictionary<string, object?> { ["id"] = 1 });
        var (carolClient, carolConnection) = await ConnectWhenAsync("carol", ConnectionStatus.Blocked);
        Assert.Contains("has not enabled Tickets", carolConnection.Refusal!.Reason, StringComparison.Ordinal);
        var carolDecision = carolConnection.Refusal.DecisionId!;
        var audit = server.App.Services.GetRequiredService<IAuditReader>();
        var exchanges = await audit.ListAsync(new AuditQuery { Type = AuditEventTypes.TokenExchange, Resource = server.BaseUrl + "/mcp/tickets", Limit = 100 }, default);
        var bobDecision = exchanges.First(e => e.Subject == "usr-bob" && e.Outcome == AuditOutcomes.Granted);
        Assert.Contains("rule research-tickets", bobDecision.Reason, StringComparison.Ordinal); // the explanation is recorded with the decision
        Assert.Contains("no rule allows this (default: deny)", exchanges.Single(e => e.Id == carolDecision).Reason, StringComparison.Ordinal);

        // 5. The simulator gives the same answers, with the same explanation, issuing nothing.
        var before = await server.AuditCountAsync();
        await page.GotoAsync(server.BaseUrl + "/admin/simulator");
        await AskAsync(page, "bob");
        Assert.Equal("ALLOW", await page.Locator("#verdict").InnerTextAsync());
        Assert.Equal("tickets.read", await page.Locator("#granted").InnerTextAsync());
        Assert.Contains("rule research-tickets", await page.Locator("#explanation").InnerTextAsync(), StringComparison.Ordinal);
        await AskAsync(page, "carol");
        Assert.Equal("DENY", await page.Locator("#verdict").InnerTextAsync());
        Assert.Contains("no rule allows this (default: deny)", await page.Locator("#explanation").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(before, await server.AuditCountAsync());
        await ShotAsync(page, "console-simulator");

        // 6. The audit page follows bob's decision: IdP token exchange → AS jwt-bearer redemption → MCP tool call.
        await page.GotoAsync(server.BaseUrl + "/admin/audit");
        await page.FillAsync("input[name=trail]", bobDecision.Id);
        await page.ClickAsync("form:has(input[name=trail]) button");
        var trail = await page.Locator("#trail").InnerTextAsync();
        Assert.Matches(new Regex("IdP.*token_exchange.*granted", RegexOptions.Singleline), trail);
        Assert.Matches(new Regex("authorization server.*jwt_bearer.*granted", RegexOptions.Singleline), trail);
        Assert.Matches(new Regex("MCP server.*mcp_call.*granted", RegexOptions.Singleline), trail);
        await ShotAsync(page, "console-audit-trail");
        await page.GotoAsync(server.BaseUrl + "/admin/audit?trail=" + carolDecision);
        Assert.Contains("no rule allows this (default: deny)", await page.Locator("#trail").InnerTextAsync(), StringComparison.Ordinal);

        // 7. The other main pages.
        foreach (var (path, name) in new[] { ("/admin", "console-overview"), ("/admin/users", "console-users"), ("/admin/clients", "console-clients"), ("/admin/resources?check=res-tickets", "console-resources"), ("/admin/sessions", "console-sessions"), ("/admin/keys", "console-keys"), ("/admin/authorization-server", "console-authorization-server") })
        {
            var response = await page.GotoAsync(server.BaseUrl + path);
            Assert.Equal((int)HttpStatusCode.OK, response!.Status);
            await ShotAsync(page, name);
        }

        Assert.Contains("it advertises the ID-JAG profile", await page.GotoAsync(server.BaseUrl + "/admin/resources?check=res-tickets") is not null ? await page.Locator("#connection-check").InnerTextAsync() : string.Empty, StringComparison.Ordinal);

        // 8. Bob's own page: what his clients reach for him.
        await using var bobContext = await browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true, ViewportSize = new() { Width = 1100, Height = 700 }, JavaScriptEnabled = false });
        var bobPage = await bobContext.NewPageAsync();
        await bobPage.GotoAsync(server.BaseUrl + "/my/connections");
        await bobPage.FillAsync("#username", "bob");
        await bobPage.FillAsync("#password", server.Password("bob"));
        await bobPage.ClickAsync("#submit");
        Assert.EndsWith("/my/connections", bobPage.Url, StringComparison.Ordinal);
        var mine = await bobPage.Locator("#connection-ema-agent").InnerTextAsync();
        Assert.Contains("Tickets", mine, StringComparison.Ordinal);
        Assert.Contains("tickets.read", mine, StringComparison.Ordinal);
        Assert.DoesNotContain("Ledger", mine, StringComparison.Ordinal); // the policy, not entitlements v1, decides now
        await ShotAsync(bobPage, "my-connections");

        foreach (var shot in Directory.GetFiles(_shots, "*.png"))
        {
            Assert.True(new FileInfo(shot).Length > 10_000, shot);
        }

        await bobConnection.DisposeAsync();
        await carolConnection.DisposeAsync();
        bobClient.Dispose();
        carolClient.Dispose();
    }

    private static async Task AskAsync(IPage page, string user)
    {
        await page.FillAsync("input[name=user]", user);
        await page.SelectOptionAsync("select[name=client]", "ema-agent");
        await page.SelectOptionAsync("select[name=resource]", "res-tickets");
        await page.FillAsync("input[name=scopes]", string.Empty);
        await page.ClickAsync("button[name=ask]");
    }

    /// <summary>Connects <paramref name="username"/>'s Ema client to the tickets server until the policy gives the expected status.</summary>
    private async Task<(EmaClient Client, EmaConnection Connection)> ConnectWhenAsync(string username, ConnectionStatus expected)
    {
        var client = await ClientHarness.SignedInAsync(server, username, ClientHarness.Options(server, useCatalog: false));
        for (var attempt = 0; ; attempt++)
        {
            var connection = await client.ConnectAsync(ClientHarness.Server(server, "tickets", "tickets.read"));
            if (connection.Status == expected || attempt >= 40)
            {
                Assert.Equal(expected, connection.Status);
                return (client, connection);
            }

            await connection.DisposeAsync();
            await Task.Delay(250);
        }
    }

    private async Task ShotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(_shots, name + ".png"), FullPage = true });
}
