using System.Net;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.IdentityProvider;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Ema.Testing;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.Keys;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.AuthorizationServer;

/// <summary>
/// The authorization server for MCP servers over real https (spec §2(c); decisions 2, 7, 9, 14, 16, 17, 19): the whole
/// chain IdP → ID-JAG → access token, and refusals that issue nothing and leave one audit record each.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed class AuthorizationServerTests(EmaServerFixture server)
{
    private string AsIssuer => server.BaseUrl + "/as";

    private string Tickets => server.BaseUrl + "/mcp/tickets";

    private (string, string) IdpAgent => (DemoSeed.AgentClientId, server.Demo.ClientSecret);

    private (string, string) AsAgent => (DemoSeed.AgentClientId, server.Demo.AuthorizationServerClientSecret);

    [Theory]
    [InlineData("/.well-known/oauth-authorization-server/as")]
    [InlineData("/as/.well-known/oauth-authorization-server")]
    public async Task Metadata_AtBothRfc8414Locations_AdvertisesJwtBearerAndIdJagProfile(string path)
    {
        var metadata = JsonSerializer.Deserialize(await server.Http.GetStringAsync(server.BaseUrl + path), EmaJsonContext.Default.AuthorizationServerMetadata)!;
        Assert.Equal(AsIssuer, metadata.Issuer);
        Assert.Equal([GrantTypes.JwtBearer], metadata.GrantTypesSupported!);
        Assert.Equal([GrantProfiles.IdJag], metadata.AuthorizationGrantProfilesSupported!);
        Assert.Contains(ClientAuthenticationMethods.ClientSecretBasic, metadata.TokenEndpointAuthMethodsSupported!);
        Assert.Contains("tickets.write", metadata.ScopesSupported!);
    }

    [Fact]
    public async Task AuthorizeEndpoint_OffersNoInteractiveConsentAndNeverRedirects()
    {
        // Decision 11: enterprise mode never falls back to per-server consent.
        var response = await server.Http.GetAsync(AsIssuer + "/authorize?response_type=code&client_id=ema-agent&redirect_uri=https%3A%2F%2Fevil.example%2Fcb");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        var metadata = JsonSerializer.Deserialize(await server.Http.GetStringAsync(server.BaseUrl + "/.well-known/oauth-authorization-server/as"), EmaJsonContext.Default.AuthorizationServerMetadata)!;
        Assert.Empty(metadata.ResponseTypesSupported!);
    }

    [Fact]
    public async Task EndToEnd_IdTokenToIdJagToAccessToken_AudienceBoundAndTraceableInAudit()
    {
        var alice = await server.SignInAsync("alice");
        var idJag = await ExchangeAsync(alice.Tokens.IdToken!, Tickets);

        var response = await RedeemAsync(idJag, AsAgent);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        var tokens = JsonSerializer.Deserialize(body, EmaJsonContext.Default.AccessTokenResponse)!;
        server.Remember(tokens.AccessToken);
        Assert.Equal("Bearer", tokens.TokenType);
        Assert.Null(tokens.RefreshToken); // ID-JAG §4.4.3, decision 16
        Assert.Equal(Tickets, tokens.Resource);
        Assert.Equal("tickets.read tickets.write", tokens.Scope);
        Assert.Equal(600, tokens.ExpiresIn);

        var keys = new HttpJwksKeySource(TrustedHttp.Client(server.Ca), new HttpJwksKeySourceOptions { JwksUri = new Uri(AsIssuer + "/jwks") }, TimeProvider.System);
        var validated = await new AccessTokenValidator(new AccessTokenValidationParameters { Issuer = AsIssuer, Audience = Tickets, Keys = keys }, TimeProvider.System).ValidateAsync(tokens.AccessToken, default);
        Assert.True(validated.IsValid, validated.Error?.ToString());
        Assert.StartsWith("acct_", validated.Value!.Subject, StringComparison.Ordinal);
        Assert.Equal(DemoSeed.AgentClientId, validated.Value.ClientId);
        Assert.Equal(["pwd"], validated.Value.Amr!);

        // One decision id trail: the IdP's exchange record names the ID-JAG jti, the AS's redemption names it as parent.
        var idJagJti = Claim(idJag, "jti");
        var trail = await server.App.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { TokenId = idJagJti }, default);
        Assert.Contains(trail, e => e.Type == AuditEventTypes.TokenExchange && e.TokenId == idJagJti && e.Outcome == AuditOutcomes.Granted);
        Assert.Contains(trail, e => e.Type == AuditEventTypes.JwtBearer && e.ParentTokenId == idJagJti && e.TokenId == validated.Value.JwtId);
    }

    [Fact]
    public async Task ClientSecretPost_IsAcceptedToo()
    {
        var alice = await server.SignInAsync("alice");
        var idJag = await ExchangeAsync(alice.Tokens.IdToken!, server.BaseUrl + "/mcp/wiki");
        var response = await RedeemAsync(idJag, null, new() { ["client_id"] = DemoSeed.AgentClientId, ["client_secret"] = server.Demo.AuthorizationServerClientSecret });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        server.Remember(await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Replay_SameIdJagTwice_SecondIsInvalidGrantAndIssuesNothing()
    {
        var alice = await server.SignInAsync("alice");
        var idJag = await ExchangeAsync(alice.Tokens.IdToken!, Tickets);
        Assert.Equal(HttpStatusCode.OK, (await RedeemAsync(idJag, AsAgent)).StatusCode);

        var before = await server.AuditCountAsync();
        await SignInTests.AssertErrorAsync(await RedeemAsync(idJag, AsAgent), HttpStatusCode.BadRequest, ErrorIds.IdJagReplayed);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task Replay_TwoConcurrentRedemptions_ExactlyOneSucceeds()
    {
        var alice = await server.SignInAsync("alice");
        var idJag = await ExchangeAsync(alice.Tokens.IdToken!, Tickets);
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => RedeemAsync(idJag, AsAgent)));
        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(7, responses.Count(r => r.StatusCode == HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Resource_IdJagForAPresentedWithResourceB_IsInvalidTarget()
    {
        var alice = await server.SignInAsync("alice");
        var idJag = await ExchangeAsync(alice.Tokens.IdToken!, Tickets);
        var response = await RedeemAsync(idJag, AsAgent, new() { ["resource"] = server.BaseUrl + "/mcp/wiki" });
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.IdJagResourceParameterMismatch);
    }

    [Fact]
    public async Task Scope_RequestBeyondTheIdJag_IsInvalidScope()
    {
        var carol = await server.SignInAsync("carol");
        var idJag = await ExchangeAsync(carol.Tokens.IdToken!, Tickets); // contractors: tickets.read only
        await SignInTests.AssertErrorAsync(await RedeemAsync(idJag, AsAgent, new() { ["scope"] = "tickets.write" }), HttpStatusCode.BadRequest, ErrorIds.ScopeBeyondGrant);
    }

    public static TheoryData<string, int, string> ClientFailures() => new()
    {
        { "unknown client", 401, ErrorIds.ClientUnknown.Id },
        { "wrong secret", 401, ErrorIds.ClientSecretInvalid.Id },
        { "basic and post both", 400, ErrorIds.ClientAuthenticationMultipleMethods.Id },
        { "public client", 401, ErrorIds.ClientAuthenticationRequired.Id },
        { "IdP credentials used at the AS", 401, ErrorIds.ClientSecretInvalid.Id },
    };

    [Theory]
    [MemberData(nameof(ClientFailures))]
    public async Task ClientAuthentication_Failure_IsRefusedIssuesNothingAndIsAudited(string name, int status, string errorId)
    {
        var store = server.App.Services.GetRequiredService<IAuthorizationServerStore>();
        await store.CreateClientAsync(new ClientApplication { ClientId = "as-public", Name = "Public", AuthenticationMethod = ClientAuthenticationMethods.None }, default);
        var alice = await server.SignInAsync("alice");
        var idJag = await ExchangeAsync(alice.Tokens.IdToken!, Tickets);
        (string, string)? basic = name switch
        {
            "unknown client" => ("nobody", "whatever-secret"),
            "wrong secret" => (DemoSeed.AgentClientId, "wrong-secret-0123456789"),
            "basic and post both" => AsAgent,
            "public client" => null,
            _ => IdpAgent,
        };
        Dictionary<string, string>? extra = name switch
        {
            "basic and post both" => new() { ["client_secret"] = server.Demo.AuthorizationServerClientSecret },
            "public client" => new() { ["client_id"] = "as-public" },
            _ => null,
        };

        var before = await server.AuditCountAsync();
        var response = await RedeemAsync(idJag, basic, extra);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{name}: {(int)response.StatusCode} {body} {string.Join(" | ", server.Logs.Lines.Where(l => l.Contains("Exception", StringComparison.Ordinal)).TakeLast(2))}");
        Assert.Equal(errorId, JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!.EmaErrorId);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    internal async Task<string> ExchangeAsync(string idToken, string resource, string? scope = null)
    {
        var response = await server.TokenAsync(server.ExchangeForm(idToken, resource, AsIssuer, scope), IdpAgent);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        var jag = JsonSerializer.Deserialize(body, EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken;
        server.Remember(jag);
        return jag;
    }

    internal Task<HttpResponseMessage> RedeemAsync(string assertion, (string Id, string Secret)? basic, Dictionary<string, string>? extra = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = GrantTypes.JwtBearer, ["assertion"] = assertion };
        foreach (var (k, v) in extra ?? [])
        {
            form[k] = v;
        }

        var request = new HttpRequestMessage(HttpMethod.Post, AsIssuer + "/token") { Content = new FormUrlEncodedContent(form) };
        if (basic is { } c)
        {
            request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(c.Id)}:{Uri.EscapeDataString(c.Secret)}")));
        }

        return server.Http.SendAsync(request);
    }

    internal static string Claim(string jwt, string name) =>
        JsonDocument.Parse(Convert.FromBase64String(TokenExchangeTests.Pad(jwt.Split('.')[1]))).RootElement.GetProperty(name).GetString()!;
}
