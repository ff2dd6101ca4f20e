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

/// <summary>A host whose sign-in page allows five attempts per address per minute, on a test clock, behind a trusted proxy on loopback.</summary>
public sealed class RateLimitedServerFixture : EmaServerFixture
{
    public RateLimitedServerFixture()
        : this(new FakeTimeProvider(TimeProvider.System.GetUtcNow()))
    {
    }

    private RateLimitedServerFixture(FakeTimeProvider clock)
        : base(clock) => Clock = clock;

    public FakeTimeProvider Clock { get; }

    protected override IEnumerable<string> ExtraArguments => ["--Ema:IdentityProvider:SignInAttemptsPerAddressPerMinute=5", "--Ema:TrustedProxies=127.0.0.1"];
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
        Assert.Single(trail, r => r.Reason!.StartsWith("too many sign-in attempts", StringComparison.Ordinal)); // one record per address and minute

        // A right password is refused too while the window lasts; the next minute, it signs in — and a right password
        // is given back, so an office signing in all day never reaches the limit.
        Assert.Contains("Too many sign-in attempts", await SignInAsync("spray6", "spray6-own-password"), StringComparison.Ordinal);
        server.Clock.Advance(TimeSpan.FromMinutes(1));
        for (var i = 0; i < 8; i++)
        {
            var (browser, _, page) = await server.OpenSignInPageAsync();
            var signedIn = await browser.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(page, "spray6", "spray6-own-password"));
            Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        }
    }

    [Fact]
    public async Task SignIn_BehindATrustedProxy_CountsAndAuditsTheForwardedClientAddress()
    {
        server.Clock.Advance(TimeSpan.FromMinutes(1));
        for (var i = 0; i < 5; i++)
        {
            Assert.Contains("The username or password is incorrect.", await SignInAsync("nobody-" + i, "guess", forwardedFor: "203.0.113.7"), StringComparison.Ordinal);
        }

        Assert.Contains("Too many sign-in attempts", await SignInAsync("nobody-5", "guess", forwardedFor: "203.0.113.7"), StringComparison.Ordinal);
        Assert.Contains("The username or password is incorrect.", await SignInAsync("nobody-6", "guess", forwardedFor: "198.51.100.20"), StringComparison.Ordinal); // another client behind the same proxy

        var trail = await server.App.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { Type = AuditEventTypes.SignIn, Limit = 1000 }, default);
        Assert.Equal(6, trail.Count(r => r.RemoteAddress == "203.0.113.7"));
        Assert.Contains(trail, r => r.RemoteAddress == "198.51.100.20");
    }

    [Fact]
    public void RateLimit_CountsPerAddress_GivesBackRightPasswords_AndIPv6ByItsPrefixes()
    {
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var limit = new SignInRateLimit(clock, attemptsPerMinute: 2);
        Assert.True(limit.TryAcquire("192.0.2.1").Allowed);
        Assert.True(limit.TryAcquire("192.0.2.1").Allowed);
        var refused = limit.TryAcquire("192.0.2.1");
        Assert.False(refused.Allowed);
        Assert.True(refused.FirstRefusal);
        Assert.Equal(TimeSpan.FromMinutes(1), refused.RetryAfter);
        Assert.False(limit.TryAcquire("192.0.2.1").FirstRefusal); // audited once per window
        Assert.True(limit.TryAcquire("192.0.2.2").Allowed); // another address has its own count
        Assert.False(limit.TryAcquire("::ffff:192.0.2.1").Allowed); // IPv4-mapped IPv6 is the IPv4 address

        limit.Release("192.0.2.1"); // a right password is given back
        Assert.True(limit.TryAcquire("192.0.2.1").Allowed);

        // IPv6: per /64 (2) and per /48 (4 × 2), since one client can hold a /48.
        Assert.True(limit.TryAcquire("2001:db8:1:2::a").Allowed);
        Assert.True(limit.TryAcquire("2001:db8:1:2:ffff::b").Allowed);
        Assert.False(limit.TryAcquire("2001:db8:1:2:1234:5678:9abc:def0").Allowed);
        for (var subnet = 3; subnet < 6; subnet++)
        {
            Assert.True(limit.TryAcquire($"2001:db8:1:{subnet}::1").Allowed);
            Assert.True(limit.TryAcquire($"2001:db8:1:{subnet}::2").Allowed);
        }

        Assert.False(limit.TryAcquire("2001:db8:1:9::1").Allowed); // a fresh /64, but its /48 has had 8
        Assert.True(limit.TryAcquire("2001:db8:2:9::1").Allowed); // another /48

        clock.Advance(TimeSpan.FromSeconds(61));
        Assert.True(limit.TryAcquire("192.0.2.1").Allowed);
        Assert.True(new SignInRateLimit(clock, attemptsPerMinute: 0).TryAcquire("192.0.2.1").Allowed); // 0: off
    }

    [Fact]
    public void RateLimit_AtCapacity_NewClientsShareOneCount_AndEndedWindowsAreForgottenOldestFirst()
    {
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var limit = new SignInRateLimit(clock, attemptsPerMinute: 2, capacity: 10);
        for (var i = 0; i < 10; i++)
        {
            Assert.True(limit.TryAcquire($"198.51.100.{i}").Allowed);
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        // Full of live windows: fresh addresses are not let through unlimited, they share one count.
        Assert.True(limit.TryAcquire("203.0.113.1").Allowed);
        Assert.True(limit.TryAcquire("203.0.113.2").Allowed);
        Assert.False(limit.TryAcquire("203.0.113.3").Allowed);
        Assert.True(limit.TryAcquire("198.51.100.9").Allowed); // a tracked client keeps its own

        // The oldest windows end first and make room.
        clock.Advance(TimeSpan.FromSeconds(52)); // the first three windows (started at 0, 1 and 2 s) have ended
        Assert.True(limit.TryAcquire("203.0.113.3").Allowed);
        Assert.True(limit.Count <= 10);
    }

    private async Task<string> SignInAsync(string username, string password, string? forwardedFor = null)
    {
        var (browser, _, page) = await server.OpenSignInPageAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/idp/signin") { Content = EmaServerFixture.SignInForm(page, username, password) };
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        var posted = await browser.SendAsync(request);
        return await posted.Content.ReadAsStringAsync();
    }
}
