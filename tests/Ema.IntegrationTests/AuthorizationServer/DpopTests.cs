using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.Dpop;
using Ema.Server.Model;
using Ema.Server.Stores;
using Ema.Tokens.Keys;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.AuthorizationServer;

/// <summary>
/// DPoP across the two token endpoints over https (RFC 9449 §5; ID-JAG §8.6.1): a proof at the token exchange binds the
/// ID-JAG to its key (cnf.jkt), and the authorization server redeems a bound ID-JAG only with a proof by that key.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed class DpopTests(EmaServerFixture server) : IAsyncLifetime
{
    private const string RequiringClient = "dpop-required-desktop";
    private const string TestIssuer = "https://idp.dpop-required.example";
    private readonly SigningKey _clientKey = TestKeys.OtherIdpEc();

    private string IdpToken => server.Issuer + "/token";

    private string AsToken => server.BaseUrl + "/as/token";

    private string Tickets => server.BaseUrl + "/mcp/tickets";

    public async Task InitializeAsync()
    {
        // A public client registered as DPoP-required at the IdP, and the same id at the AS (with a test issuer whose
        // ID-JAGs the tests sign themselves, bound or not).
        await server.App.Services.GetRequiredService<IApplicationStore>().CreateClientAsync(new ClientApplication
        {
            ClientId = RequiringClient, Name = "DPoP required", AuthenticationMethod = ClientAuthenticationMethods.None, RedirectUris = ["http://127.0.0.1/callback"],
            GrantTypes = [GrantTypes.AuthorizationCode, GrantTypes.TokenExchange], TokenExchangeAllowed = true, PublicTokenExchangeAllowed = true, RequireDpop = true,
        }, default);
        var store = server.App.Services.GetRequiredService<IAuthorizationServerStore>();
        await store.CreateTenantAsync(new Tenant("dpop-required", "DPoP required"), default);
        await store.CreateTrustedIssuerAsync(new TrustedIssuerRegistration { Issuer = TestIssuer, TenantId = "dpop-required", InlineJwks = JsonSerializer.Serialize(new JsonWebKeySetDocument { Keys = [TestKeys.IdpEc().PublicKey.Jwk] }, EmaJsonContext.Default.JsonWebKeySetDocument) }, default);
        await store.CreateClientAsync(new ClientApplication { ClientId = RequiringClient, Name = "DPoP required", AuthenticationMethod = ClientAuthenticationMethods.ClientSecretBasic, SecretHash = Ema.Server.Security.SecretHasher.Hash("dpop-required-secret"), RequireDpop = true }, default);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task RequireDpop_AtTheIdp_ATokenExchangeWithoutAProof_IsRefused_NeverAnUnboundIdJag()
    {
        var desktop = await server.SignInAsync("alice", "openid", clientId: RequiringClient);
        var form = server.ExchangeForm(desktop.Tokens.IdToken!, Tickets);
        form["client_id"] = RequiringClient;
        var before = await server.AuditCountAsync();
        var unproven = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, IdpToken) { Content = new FormUrlEncodedContent(form) });
        await AssertRefusedAsync(unproven, ErrorIds.DpopProofRequired);
        Assert.Equal(before + 1, await server.AuditCountAsync());

        // The admin turns it off, then on again: the gate follows at once (the client cache is invalidated by the write).
        var operations = server.App.Services.GetRequiredService<Ema.Admin.AdminOperations>();
        var admin = new Ema.Admin.Console.ConsoleUser("usr-admin", "admin", "Admin", ["admin"], DateTimeOffset.UnixEpoch, ["pwd", "mfa"], null);
        Assert.True((await operations.SetClientRequireDpopAsync(admin, RequiringClient, false, default)).Succeeded);
        try
        {
            var offBody = await (await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, IdpToken) { Content = new FormUrlEncodedContent(form) })).Content.ReadAsStringAsync();
            Assert.DoesNotContain(ErrorIds.DpopProofRequired.Id, offBody, StringComparison.Ordinal);
            if (offBody.Contains("\"access_token\"", StringComparison.Ordinal))
            {
                server.Remember(JsonSerializer.Deserialize(offBody, EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken);
            }
        }
        finally
        {
            Assert.True((await operations.SetClientRequireDpopAsync(admin, RequiringClient, true, default)).Succeeded);
        }

        await AssertRefusedAsync(await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, IdpToken) { Content = new FormUrlEncodedContent(form) }), ErrorIds.DpopProofRequired);

        // With a proof the DPoP gate is passed (what follows is the policy's decision for this client).
        var request = new HttpRequestMessage(HttpMethod.Post, IdpToken) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Add(HeaderValues.DpopHeader, Proof(_clientKey, IdpToken));
        var proven = await server.Http.SendAsync(request);
        var body = await proven.Content.ReadAsStringAsync();
        if (proven.IsSuccessStatusCode)
        {
            var idJag = JsonSerializer.Deserialize(body, EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken;
            server.Remember(idJag);
            Assert.True(Claims(idJag).TryGetProperty("cnf", out _));
        }
        else
        {
            Assert.NotEqual(ErrorIds.DpopProofRequired.Id, JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!.EmaErrorId);
        }
    }

    [Fact]
    public async Task RequireDpop_AtTheAuthorizationServer_AnUnboundIdJag_IsRefused_ABoundOneWithItsProofIsRedeemed()
    {
        string IdJag(string? jkt)
        {
            var claims = new Dictionary<string, object?>
            {
                ["iss"] = TestIssuer, ["sub"] = "u-dpop", ["aud"] = server.BaseUrl + "/as", ["client_id"] = RequiringClient, ["jti"] = Guid.NewGuid().ToString("N"),
                ["iat"] = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds(), ["exp"] = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds() + 300,
                ["resource"] = Tickets, ["scope"] = "tickets.read",
            };
            if (jkt is not null)
            {
                claims["cnf"] = new Dictionary<string, string> { ["jkt"] = jkt };
            }

            var key = TestKeys.IdpEc();
            return RawJwt.Sign($"{{\"alg\":\"ES256\",\"typ\":\"oauth-id-jag+jwt\",\"kid\":\"{key.KeyId}\"}}", JsonSerializer.Serialize(claims), key);
        }

        Task<HttpResponseMessage> RedeemAsRequiringClientAsync(string idJag, string? proof)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, AsToken) { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = GrantTypes.JwtBearer, ["assertion"] = idJag }) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{RequiringClient}:dpop-required-secret")));
            if (proof is not null)
            {
                request.Headers.Add(HeaderValues.DpopHeader, proof);
            }

            return server.Http.SendAsync(request);
        }

        await AssertRefusedAsync(await RedeemAsRequiringClientAsync(IdJag(null), null), ErrorIds.IdJagConfirmationRequired);
        await AssertRefusedAsync(await RedeemAsRequiringClientAsync(IdJag(null), Proof(_clientKey, AsToken)), ErrorIds.IdJagConfirmationRequired); // a proof does not bind after the fact
        var bound = await RedeemAsRequiringClientAsync(IdJag(DpopProofValidator.Thumbprint(_clientKey.PublicKey)), Proof(_clientKey, AsToken));
        var body = await bound.Content.ReadAsStringAsync();
        Assert.True(bound.IsSuccessStatusCode, body);
        server.Remember(JsonSerializer.Deserialize(body, EmaJsonContext.Default.AccessTokenResponse)!.AccessToken);
    }

    [Fact]
    public async Task TokenExchange_WithADpopProof_BindsTheIdJagToItsKey_AndTheAsRedeemsItOnlyWithThatKey()
    {
        var alice = await server.SignInAsync("alice");
        var exchanged = await ExchangeAsync(alice.Tokens.IdToken!, Proof(_clientKey, IdpToken));
        var body = await exchanged.Content.ReadAsStringAsync();
        Assert.True(exchanged.IsSuccessStatusCode, body);
        var idJag = JsonSerializer.Deserialize(body, EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken;
        server.Remember(idJag);
        var thumbprint = DpopProofValidator.Thumbprint(_clientKey.PublicKey);
        Assert.Equal(thumbprint, Claims(idJag).GetProperty("cnf").GetProperty("jkt").GetString());

        // No proof, or a proof by another key: invalid_grant, nothing issued, the jti not consumed.
        var before = await server.AuditCountAsync();
        await AssertRefusedAsync(await RedeemAsync(idJag, null), ErrorIds.IdJagConfirmationUnsupported);
        await AssertRefusedAsync(await RedeemAsync(idJag, Proof(TestKeys.AttackerEc(), AsToken)), ErrorIds.IdJagConfirmationMismatch);
        Assert.Equal(before + 2, await server.AuditCountAsync());

        // The key's own proof: redeemed.
        var redeemed = await RedeemAsync(idJag, Proof(_clientKey, AsToken));
        var tokens = await redeemed.Content.ReadAsStringAsync();
        Assert.True(redeemed.IsSuccessStatusCode, tokens);
        var accessToken = JsonSerializer.Deserialize(tokens, EmaJsonContext.Default.AccessTokenResponse)!;
        server.Remember(accessToken.AccessToken);
        Assert.Equal(TokenTypes.Dpop, accessToken.TokenType); // RFC 9449 §5: bound to the same key
        Assert.Equal(thumbprint, Claims(accessToken.AccessToken).GetProperty("cnf").GetProperty("jkt").GetString());
    }

    [Fact]
    public async Task TokenExchange_WithAnInvalidDpopProof_IsInvalidDpopProof_IssuesNothing_AndIsAudited()
    {
        var alice = await server.SignInAsync("alice");
        var before = await server.AuditCountAsync();
        var response = await ExchangeAsync(alice.Tokens.IdToken!, Proof(_clientKey, AsToken)); // made for another endpoint
        await AssertRefusedAsync(response, ErrorIds.DpopProofTargetMismatch);
        Assert.Equal(before + 1, await server.AuditCountAsync());

        // Replayed: a valid proof works once.
        var proof = Proof(_clientKey, IdpToken);
        var first = await ExchangeAsync(alice.Tokens.IdToken!, proof);
        Assert.True(first.IsSuccessStatusCode, await first.Content.ReadAsStringAsync());
        server.Remember(JsonSerializer.Deserialize(await first.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken);
        await AssertRefusedAsync(await ExchangeAsync(alice.Tokens.IdToken!, proof), ErrorIds.DpopProofReplayed);
    }

    [Fact]
    public async Task ResourceServer_ADpopBoundToken_IsAcceptedOnlyWithTheDpopSchemeAndAFreshProofByItsKey()
    {
        // RFC 9449 §7: at the MCP server, the bound token needs the DPoP scheme and a proof for this request (method, URI,
        // ath) by the bound key; a Bearer presentation, a missing, replayed or foreign proof are 401 with a DPoP challenge.
        var alice = await server.SignInAsync("alice");
        var exchanged = await ExchangeAsync(alice.Tokens.IdToken!, Proof(_clientKey, IdpToken));
        var idJag = JsonSerializer.Deserialize(await exchanged.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken;
        server.Remember(idJag);
        var redeemed = await RedeemAsync(idJag, Proof(_clientKey, AsToken));
        var token = JsonSerializer.Deserialize(await redeemed.Content.ReadAsStringAsync(), EmaJsonContext.Default.AccessTokenResponse)!.AccessToken;
        server.Remember(token);

        Task<HttpResponseMessage> CallAsync(string scheme, string? proof)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, Tickets)
            {
                Content = new StringContent("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Accept.ParseAdd("application/json");
            request.Headers.Accept.ParseAdd("text/event-stream");
            request.Headers.Authorization = new AuthenticationHeaderValue(scheme, token);
            if (proof is not null)
            {
                request.Headers.Add(HeaderValues.DpopHeader, proof);
            }

            return server.Http.SendAsync(request);
        }

        string ResourceProof(SigningKey key, string? forToken = null) => DpopProofs.Create(key, "POST", Tickets, TimeProvider.System.GetUtcNow(), claims: new Dictionary<string, object?> { ["ath"] = DpopProofValidator.AccessTokenHash(forToken ?? token) });

        async Task AssertUnauthorizedAsync(HttpResponseMessage response, string expectedError)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var challenges = string.Join(" | ", response.Headers.WwwAuthenticate.Select(h => h.ToString()));
            Assert.Contains("DPoP algs=", challenges, StringComparison.Ordinal);
            Assert.Contains(expectedError, challenges, StringComparison.Ordinal);
        }

        await AssertUnauthorizedAsync(await CallAsync("Bearer", null), "invalid_token"); // presented as Bearer
        await AssertUnauthorizedAsync(await CallAsync("DPoP", null), "invalid_dpop_proof"); // no proof
        await AssertUnauthorizedAsync(await CallAsync("DPoP", ResourceProof(TestKeys.AttackerEc())), "invalid_dpop_proof"); // another key
        await AssertUnauthorizedAsync(await CallAsync("DPoP", ResourceProof(_clientKey, forToken: "another-token")), "invalid_dpop_proof"); // ath of another token
        var athOfToken = new Dictionary<string, object?> { ["ath"] = DpopProofValidator.AccessTokenHash(token) };
        await AssertUnauthorizedAsync(await CallAsync("DPoP", DpopProofs.Create(_clientKey, "POST", server.BaseUrl + "/mcp/wiki", TimeProvider.System.GetUtcNow(), claims: athOfToken)), "invalid_dpop_proof"); // another URI
        await AssertUnauthorizedAsync(await CallAsync("DPoP", DpopProofs.Create(_clientKey, "GET", Tickets, TimeProvider.System.GetUtcNow(), claims: athOfToken)), "invalid_dpop_proof"); // another method

        var proof = ResourceProof(_clientKey);
        var accepted = await CallAsync("DPoP", proof);
        Assert.True(accepted.IsSuccessStatusCode, $"{(int)accepted.StatusCode} {await accepted.Content.ReadAsStringAsync()}");
        await AssertUnauthorizedAsync(await CallAsync("DPoP", proof), "invalid_dpop_proof"); // the same proof again
    }

    [Fact]
    public async Task ResourceServer_ABearerToken_UnderTheDpopScheme_IsRefused()
    {
        var alice = await server.SignInAsync("alice");
        var idJag = JsonSerializer.Deserialize(await (await ExchangeAsync(alice.Tokens.IdToken!, null)).Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken;
        server.Remember(idJag);
        var token = JsonSerializer.Deserialize(await (await RedeemAsync(idJag, null)).Content.ReadAsStringAsync(), EmaJsonContext.Default.AccessTokenResponse)!;
        server.Remember(token.AccessToken);
        Assert.Equal(TokenTypes.Bearer, token.TokenType);
        var request = new HttpRequestMessage(HttpMethod.Post, Tickets) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("DPoP", token.AccessToken);
        request.Headers.Add(HeaderValues.DpopHeader, DpopProofs.Create(_clientKey, "POST", Tickets, TimeProvider.System.GetUtcNow(), claims: new Dictionary<string, object?> { ["ath"] = DpopProofValidator.AccessTokenHash(token.AccessToken) }));
        var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(ErrorIds.AccessTokenNotDpopBound.Description[..20], string.Join(" ", response.Headers.WwwAuthenticate.Select(h => h.ToString())), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenExchange_WithoutAProof_IssuesAnUnboundIdJag()
    {
        var alice = await server.SignInAsync("alice");
        var response = await ExchangeAsync(alice.Tokens.IdToken!, null);
        var idJag = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken;
        server.Remember(idJag);
        Assert.False(Claims(idJag).TryGetProperty("cnf", out _)); // ID-JAG §8.6.1.1: without a proof, no cnf
    }

    [Theory]
    [InlineData("/.well-known/openid-configuration/idp")]
    [InlineData("/.well-known/oauth-authorization-server/as")]
    public async Task Metadata_AdvertisesTheDpopAlgorithms(string path)
    {
        var metadata = JsonSerializer.Deserialize(await server.Http.GetStringAsync(server.BaseUrl + path), EmaJsonContext.Default.AuthorizationServerMetadata)!;
        Assert.Contains(SecurityAlgorithms.EcdsaSha256, metadata.DpopSigningAlgValuesSupported!);
        Assert.DoesNotContain(metadata.DpopSigningAlgValuesSupported!, a => a.StartsWith("HS", StringComparison.Ordinal) || a == "none");
    }

    private static string Proof(SigningKey key, string url) => DpopProofs.Create(key, "POST", url, TimeProvider.System.GetUtcNow());

    private Task<HttpResponseMessage> ExchangeAsync(string idToken, string? proof)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, IdpToken) { Content = new FormUrlEncodedContent(server.ExchangeForm(idToken, Tickets)) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{DemoSeed.AgentClientId}:{server.Demo.ClientSecret}")));
        if (proof is not null)
        {
            request.Headers.Add(HeaderValues.DpopHeader, proof);
        }

        return server.Http.SendAsync(request);
    }

    private Task<HttpResponseMessage> RedeemAsync(string idJag, string? proof)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, AsToken) { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = GrantTypes.JwtBearer, ["assertion"] = idJag }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{DemoSeed.AgentClientId}:{server.Demo.AuthorizationServerClientSecret}")));
        if (proof is not null)
        {
            request.Headers.Add(HeaderValues.DpopHeader, proof);
        }

        return server.Http.SendAsync(request);
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, ErrorDescriptor expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        var error = JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!;
        Assert.Equal(expected.Code, error.Error);
        Assert.Equal(expected.Id, error.EmaErrorId);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);
    }

    private static JsonElement Claims(string jwt)
    {
        var segment = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        return JsonDocument.Parse(Convert.FromBase64String(segment.PadRight(segment.Length + ((4 - (segment.Length % 4)) % 4), '='))).RootElement;
    }
}
