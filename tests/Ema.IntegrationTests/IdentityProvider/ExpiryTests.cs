using System.Net;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Testing;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>A host whose clock the test controls (the product reads time only from TimeProvider).</summary>
public sealed class FakeClockServerFixture() : EmaServerFixture(Clock)
{
    // Starts at the real time so TLS and the independent validators agree; only the test moves it.
    public static FakeTimeProvider Clock { get; } = new(TimeProvider.System.GetUtcNow());
}

/// <summary>Time-dependent refusals: expired subject tokens and expired codes.</summary>
public sealed class ExpiryTests(FakeClockServerFixture server) : IClassFixture<FakeClockServerFixture>
{
    [Fact]
    public async Task Exchange_ExpiredSubjectToken_IsInvalidRequestAndIssuesNothing()
    {
        var alice = await server.SignInAsync("alice");
        FakeClockServerFixture.Clock.Advance(TimeSpan.FromMinutes(62)); // ID tokens live 60 minutes, skew 60 s

        var before = await server.AuditCountAsync();
        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, server.BaseUrl + "/mcp/tickets"), (DemoSeed.AgentClientId, server.Demo.ClientSecret));

        await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.SubjectTokenExpired);
        Assert.Equal(before + 1, await server.AuditCountAsync());

        // The refresh token (7 days) still yields a new ID token: the client renews, then exchanges again.
        var refreshed = await server.TokenAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = alice.Tokens.RefreshToken! }, (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
    }

    [Fact]
    public async Task Exchange_SubjectTokenVerifiedBeforeAndCached_StillExpires()
    {
        var alice = await server.SignInAsync("alice");
        var first = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, server.BaseUrl + "/mcp/wiki"), (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode); // verified and remembered
        server.Remember(await first.Content.ReadAsStringAsync());

        FakeClockServerFixture.Clock.Advance(TimeSpan.FromMinutes(62));
        var again = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, server.BaseUrl + "/mcp/wiki"), (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        await SignInTests.AssertErrorAsync(again, HttpStatusCode.BadRequest, ErrorIds.SubjectTokenExpired);
    }
}
