using System.Net;
using Ema.IntegrationTests.Infrastructure;
using Ema.Server.Audit;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Ema.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>A host whose sign-in page allows five attempts per address per minute, on a test clock.</summary>
public sealed class RateLimitedServerFixture : EmaServerFixture
{
    public RateLimitedServerFixture()
        : this(new FakeTimeProvider(TimeProvider.System.GetUtcNow()))
    {
    }

    private RateLimitedServerFixture(FakeTimeProvider clock)
        : base(clock) => Clock = clock;

    public FakeTimeProvider Clock { get; }

    protected override IEnumerable<string> ExtraArguments => ["--Ema:IdentityProvider:SignInAttemptsPerAddressPerMinute=5"];
}

/// <summary>Password spraying: per-address limits on sign-in attempts, whatever the usernames.</summary>
public sealed class SignInRateLimitTests(RateLimitedServerFixture server) : IClassFixture<RateLimitedServerFixture>
{
    [Fact]
    public async Task SignIn_PasswordSprayingFromOneAddress_IsStoppedBeforeAnyPasswordIsChecked_UntilTheMinuteEnds()
    {
        server.Clock.Advance(TimeSpan.FromMinutes(1)); // a window of its own, whatever ran before
        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        var hasher = server.App.Services.GetRequiredService<PasswordHasher>();
        for (var i = 0; i < 7; i++)
        {
            await directory.CreateUserAsync(new User($"usr-spray{i}", $"spray{i}", $"Spray {i}", null, UserStatus.Active), hasher.Hash($"spray{i}-own-password"), default);
        }

        // One likely password against seven accounts, once each: per-user lockout never triggers.
        var answers = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            answers.Add(await SignInAsync($"spray{i}", "Winter2026!"));
        }

        Assert.All(answers.Take(5), a => Assert.Contains("The username or password is incorrect.", a, StringComparison.Ordinal));
        Assert.All(answers.Skip(5), a => Assert.Contains("Too many sign-in attempts from your network", a, StringComparison.Ordinal));

        // The refused attempts checked no password: the accounts they named counted no failure.
        Assert.Equal(0, (await directory.GetCredentialsAsync("usr-spray5", default))!.FailedAttempts);
        Assert.Equal(1, (await directory.GetCredentialsAsync("usr-spray4", default))!.FailedAttempts);
        var trail = await server.App.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { Type = AuditEventTypes.SignIn, Limit = 1000 }, default);
        Assert.Equal(2, trail.Count(r => r.Reason == "too many sign-in attempts from this address"));

        // A right password is refused too while the window lasts; the next minute, it signs in.
        Assert.Contains("Too many sign-in attempts", await SignInAsync("spray6", "spray6-own-password"), StringComparison.Ordinal);
        server.Clock.Advance(TimeSpan.FromMinutes(1));
        var (browser, _, page) = await OpenSignInPageAsync();
        var signedIn = await browser.PostAsync(server.BaseUrl + "/idp/signin", Form(page, "spray6", "spray6-own-password"));
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
    }

    [Fact]
    public void RateLimit_CountsPerAddress_AndIsBounded()
    {
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var limit = new SignInRateLimit(clock, attemptsPerMinute: 2);
        Assert.True(limit.TryAcquire("192.0.2.1", out _));
        Assert.True(limit.TryAcquire("192.0.2.1", out _));
        Assert.False(limit.TryAcquire("192.0.2.1", out var retryAfter));
        Assert.Equal(TimeSpan.FromMinutes(1), retryAfter);
        Assert.True(limit.TryAcquire("192.0.2.2", out _)); // another address has its own count

        // IPv6 counts per /64 (one client can use every address in it); IPv4-mapped addresses as IPv4.
        Assert.True(limit.TryAcquire("2001:db8:1:2::a", out _));
        Assert.True(limit.TryAcquire("2001:db8:1:2:ffff::b", out _));
        Assert.False(limit.TryAcquire("2001:db8:1:2:1234:5678:9abc:def0", out _));
        Assert.True(limit.TryAcquire("2001:db8:1:3::a", out _));
        Assert.False(limit.TryAcquire("::ffff:192.0.2.1", out _));

        clock.Advance(TimeSpan.FromSeconds(61));
        Assert.True(limit.TryAcquire("192.0.2.1", out _));
        Assert.True(new SignInRateLimit(clock, attemptsPerMinute: 0).TryAcquire("192.0.2.1", out _)); // 0: off
    }

    private async Task<string> SignInAsync(string username, string password)
    {
        var (browser, _, page) = await OpenSignInPageAsync();
        var posted = await browser.PostAsync(server.BaseUrl + "/idp/signin", Form(page, username, password));
        return await posted.Content.ReadAsStringAsync();
    }

    private async Task<(HttpClient Browser, CookieContainer Cookies, string Page)> OpenSignInPageAsync()
    {
        var cookies = new CookieContainer();
        var browser = TrustedHttp.Client(server.Ca, cookies);
        var authorize = await browser.GetAsync($"{server.Issuer}/authorize?response_type=code&client_id=ema-agent&redirect_uri={Uri.EscapeDataString("http://127.0.0.1:5555/callback")}&scope=openid&code_challenge={new string('a', 43)}&code_challenge_method=S256");
        var page = await browser.GetStringAsync(server.BaseUrl + authorize.Headers.Location!.ToString());
        return (browser, cookies, page);
    }

    private static FormUrlEncodedContent Form(string page, string username, string password) => new(new Dictionary<string, string>
    {
        ["request"] = EmaServerFixture.HiddenInput(page, "request"),
        ["__af"] = EmaServerFixture.HiddenInput(page, "__af"),
        ["username"] = username,
        ["password"] = password,
    });
}
