using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.Dpop;
using Ema.Tokens.Keys;

namespace Ema.IntegrationTests.AuthorizationServer;

/// <summary>
/// DPoP across the two token endpoints over https (RFC 9449 §5; ID-JAG §8.6.1): a proof at the token exchange binds the
/// ID-JAG to its key (cnf.jkt), and the authorization server redeems a bound ID-JAG only with a proof by that key.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed class DpopTests(EmaServerFixture server)
{
    private readonly SigningKey _clientKey = TestKeys.OtherIdpEc();

    private string IdpToken => server.Issuer + "/token";

    private string AsToken => server.BaseUrl + "/as/token";

    private string Tickets => server.BaseUrl + "/mcp/tickets";

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
        Assert.Equal(HeaderValues.BearerScheme, accessToken.TokenType); // ADR 0007: the access token itself is not bound
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
