using System.Net;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.IdentityProvider;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Server.AuthorizationServer;
using Ema.Server.Security;
using Ema.Server.Stores;
using Ema.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.AuthorizationServer;

/// <summary>A host of its own, with a clock the tests move (the issuer registry re-reads registrations on it).</summary>
public sealed class LifecycleServerFixture() : EmaServerFixture(Clock)
{
    public static FakeTimeProvider Clock { get; } = new(TimeProvider.System.GetUtcNow());
}

/// <summary>
/// Taking trust back at the authorization server: a distrusted issuer, a disabled client, a rotated secret and a removed
/// resource each stop redemptions — refused with the spec's error, nothing issued, one audit record.
/// </summary>
public sealed class AuthorizationServerLifecycleTests(LifecycleServerFixture server) : IClassFixture<LifecycleServerFixture>
{
    private static readonly TimeSpan PastRefresh = TimeSpan.FromSeconds(31); // IssuerRefreshInterval: 30 s

    private string AsIssuer => server.BaseUrl + "/as";

    private string Tickets => server.BaseUrl + "/mcp/tickets";

    private (string, string) AsAgent => (DemoSeed.AgentClientId, server.Demo.AuthorizationServerClientSecret);

    private IAuthorizationServerStore Store => server.App.Services.GetRequiredService<IAuthorizationServerStore>();

    [Fact]
    public async Task DisabledIssuer_ItsIdJagsAreRefused_AfterTheRefreshInterval_AndAcceptedAgainWhenEnabled()
    {
        var alice = await server.SignInAsync("alice");
        Assert.Equal(HttpStatusCode.OK, (await RedeemAsync(await ExchangeAsync(alice.Tokens.IdToken!), AsAgent)).StatusCode);

        Assert.True(await Store.SetTrustedIssuerEnabledAsync(server.Issuer, false, default));
        try
        {
            LifecycleServerFixture.Clock.Advance(PastRefresh);
            var idJag = await ExchangeAsync(alice.Tokens.IdToken!);
            var before = await server.AuditCountAsync();
            await SignInTests.AssertErrorAsync(await RedeemAsync(idJag, AsAgent), HttpStatusCode.BadRequest, ErrorIds.IdJagIssuerUntrusted);
            Assert.Equal(before + 1, await server.AuditCountAsync());

            // Spec §2(c)26: with no issuer trusted, the metadata offers neither the jwt-bearer grant nor the ID-JAG profile.
            var untrusting = await MetadataAsync();
            Assert.Empty(untrusting.GrantTypesSupported!);
            Assert.Null(untrusting.AuthorizationGrantProfilesSupported);
        }
        finally
        {
            Assert.True(await Store.SetTrustedIssuerEnabledAsync(server.Issuer, true, default));
            LifecycleServerFixture.Clock.Advance(PastRefresh);
        }

        Assert.Equal(HttpStatusCode.OK, (await RedeemAsync(await ExchangeAsync(alice.Tokens.IdToken!), AsAgent)).StatusCode);
        Assert.False(await Store.SetTrustedIssuerEnabledAsync("https://idp.nowhere.example", false, default));
        Assert.Equal([GrantProfiles.IdJag], (await MetadataAsync()).AuthorizationGrantProfilesSupported!);
    }

    private async Task<AuthorizationServerMetadata> MetadataAsync() =>
        JsonSerializer.Deserialize(await server.Http.GetStringAsync(server.BaseUrl + "/.well-known/oauth-authorization-server/as"), EmaJsonContext.Default.AuthorizationServerMetadata)!;

    [Fact]
    public async Task IssuerRegistry_UnchangedRegistration_KeepsItsKeySource_AcrossRereads()
    {
        // The key source holds the JWKS cache and the refetch budget against unknown-kid floods: a re-read that finds
        // the same registration must not replace it (a record's list properties compare by reference).
        var registry = server.App.Services.GetRequiredService<StoreTrustedIssuerRegistry>();
        var first = await registry.FindAsync(server.Issuer, default);
        LifecycleServerFixture.Clock.Advance(PastRefresh);
        var second = await registry.FindAsync(server.Issuer, default);
        Assert.NotNull(first);
        Assert.Same(first, second);
    }

    [Fact]
    public async Task DisabledClient_IsInvalidClient_IssuesNothing_AndEnabledAgainIsAccepted()
    {
        var alice = await server.SignInAsync("alice");
        Assert.True(await Store.SetClientEnabledAsync(DemoSeed.AgentClientId, false, default));
        try
        {
            var idJag = await ExchangeAsync(alice.Tokens.IdToken!);
            var before = await server.AuditCountAsync();
            await SignInTests.AssertErrorAsync(await RedeemAsync(idJag, AsAgent), HttpStatusCode.Unauthorized, ErrorIds.ClientDisabled);
            Assert.Equal(before + 1, await server.AuditCountAsync());
        }
        finally
        {
            Assert.True(await Store.SetClientEnabledAsync(DemoSeed.AgentClientId, true, default));
        }

        Assert.Equal(HttpStatusCode.OK, (await RedeemAsync(await ExchangeAsync(alice.Tokens.IdToken!), AsAgent)).StatusCode);
    }

    [Fact]
    public async Task RotatedClientSecret_TheOldOneIsRefused_TheNewOneAccepted()
    {
        var alice = await server.SignInAsync("alice");
        var rotated = SecretHasher.NewSecret();
        Assert.True(await Store.SetClientSecretHashAsync(DemoSeed.AgentClientId, SecretHasher.Hash(rotated), default));
        try
        {
            await SignInTests.AssertErrorAsync(await RedeemAsync(await ExchangeAsync(alice.Tokens.IdToken!), AsAgent), HttpStatusCode.Unauthorized, ErrorIds.ClientSecretInvalid);
            Assert.Equal(HttpStatusCode.OK, (await RedeemAsync(await ExchangeAsync(alice.Tokens.IdToken!), (DemoSeed.AgentClientId, rotated))).StatusCode);
        }
        finally
        {
            Assert.True(await Store.SetClientSecretHashAsync(DemoSeed.AgentClientId, SecretHasher.Hash(server.Demo.AuthorizationServerClientSecret), default));
        }
    }

    [Fact]
    public async Task RemovedResource_ItsIdJagsAreRefused_AndAddedBackAccepted()
    {
        var alice = await server.SignInAsync("alice");
        var tickets = (await Store.ListResourcesAsync(default)).Single(r => r.Resource == Tickets);
        Assert.True(await Store.DeleteResourceAsync(tickets.Id, default));
        try
        {
            var idJag = await ExchangeAsync(alice.Tokens.IdToken!);
            var before = await server.AuditCountAsync();
            await SignInTests.AssertErrorAsync(await RedeemAsync(idJag, AsAgent), HttpStatusCode.BadRequest, ErrorIds.IdJagResourceNotServed);
            Assert.Equal(before + 1, await server.AuditCountAsync());
        }
        finally
        {
            Assert.True(await Store.CreateResourceAsync(tickets, default));
        }

        Assert.Equal(HttpStatusCode.OK, (await RedeemAsync(await ExchangeAsync(alice.Tokens.IdToken!), AsAgent)).StatusCode);
    }

    private async Task<string> ExchangeAsync(string idToken)
    {
        var response = await server.TokenAsync(server.ExchangeForm(idToken, Tickets, AsIssuer), (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        var jag = JsonSerializer.Deserialize(body, EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken;
        server.Remember(jag);
        return jag;
    }

    private async Task<HttpResponseMessage> RedeemAsync(string assertion, (string Id, string Secret) basic)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, AsIssuer + "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = GrantTypes.JwtBearer, ["assertion"] = assertion }),
        };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(basic.Id)}:{Uri.EscapeDataString(basic.Secret)}")));
        var response = await server.Http.SendAsync(request);
        server.Remember(await response.Content.ReadAsStringAsync());
        return response;
    }
}
