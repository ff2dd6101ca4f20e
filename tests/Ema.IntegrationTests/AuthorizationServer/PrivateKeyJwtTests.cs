using System.Net;
using System.Text.Json;
using Ema.Client;
using Ema.IntegrationTests.Client;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Server.Model;
using Ema.Server.Stores;
using Ema.Testing;
using Ema.Tokens.Keys;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.AuthorizationServer;

/// <summary>
/// <c>private_key_jwt</c> (RFC 7523 §2.2, §3; decisions 13–14) at both token endpoints over https: a client registered with
/// its public keys authenticates with a signed assertion instead of a secret, and every rule of the assertion is enforced.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed class PrivateKeyJwtTests(EmaServerFixture server) : IAsyncLifetime
{
    private const string ClientId = "pkjwt-agent";
    private const string Issuer = "https://idp.pkjwt.example";
    private readonly SigningKey _clientKey = TestKeys.OtherIdpEc();
    private readonly SigningKey _issuerKey = TestKeys.IdpEc();

    private string AsIssuer => server.BaseUrl + "/as";

    private string AsToken => AsIssuer + "/token";

    private string IdpToken => server.Issuer + "/token";

    private static string Jwks(SigningKey key) => JsonSerializer.Serialize(new JsonWebKeySetDocument { Keys = [key.PublicKey.Jwk] }, EmaJsonContext.Default.JsonWebKeySetDocument);

    public async Task InitializeAsync()
    {
        var store = server.App.Services.GetRequiredService<IAuthorizationServerStore>();
        await store.CreateTenantAsync(new Tenant("pkjwt", "private_key_jwt tests"), default);
        await store.CreateTrustedIssuerAsync(new TrustedIssuerRegistration { Issuer = Issuer, TenantId = "pkjwt", InlineJwks = Jwks(_issuerKey) }, default);
        await store.CreateClientAsync(new ClientApplication { ClientId = ClientId, Name = "pkjwt at the AS", AuthenticationMethod = ClientAuthenticationMethods.PrivateKeyJwt, Jwks = Jwks(_clientKey) }, default);
        await server.App.Services.GetRequiredService<IApplicationStore>().CreateClientAsync(new ClientApplication
        {
            ClientId = ClientId, Name = "pkjwt at the IdP", AuthenticationMethod = ClientAuthenticationMethods.PrivateKeyJwt, Jwks = Jwks(_clientKey),
            RedirectUris = ["http://127.0.0.1/callback"], GrantTypes = [GrantTypes.AuthorizationCode, GrantTypes.RefreshToken],
        }, default);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private long Now => TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();

    private string Assertion(string audience, SigningKey? key = null, Action<Dictionary<string, object?>>? mutate = null)
    {
        var claims = new Dictionary<string, object?> { ["iss"] = ClientId, ["sub"] = ClientId, ["aud"] = audience, ["jti"] = Guid.NewGuid().ToString("N"), ["iat"] = Now, ["exp"] = Now + 60 };
        mutate?.Invoke(claims);
        var signer = key ?? _clientKey;
        return RawJwt.Sign($"{{\"alg\":\"ES256\",\"kid\":\"{signer.KeyId}\"}}", JsonSerializer.Serialize(claims), signer);
    }

    private string IdJag() => RawJwt.Sign(
        $"{{\"alg\":\"ES256\",\"typ\":\"oauth-id-jag+jwt\",\"kid\":\"{_issuerKey.KeyId}\"}}",
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["iss"] = Issuer, ["sub"] = "u-pk", ["aud"] = AsIssuer, ["client_id"] = ClientId, ["jti"] = Guid.NewGuid().ToString("N"),
            ["iat"] = Now, ["exp"] = Now + 300, ["resource"] = server.BaseUrl + "/mcp/tickets", ["scope"] = "tickets.read",
        }),
        _issuerKey);

    private Task<HttpResponseMessage> PostAsync(string url, Dictionary<string, string> form, string? basic = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new FormUrlEncodedContent(form) };
        if (basic is not null)
        {
            request.Headers.Authorization = new("Basic", basic);
        }

        return server.Http.SendAsync(request);
    }

    private Task<HttpResponseMessage> RedeemAsync(string clientAssertion, string? assertionType = ClientAssertionTypes.JwtBearer, string? basic = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = GrantTypes.JwtBearer, ["assertion"] = IdJag(), ["client_assertion"] = clientAssertion };
        if (assertionType is not null)
        {
            form["client_assertion_type"] = assertionType;
        }

        return PostAsync(AsToken, form, basic);
    }

    private static async Task AssertInvalidClientAsync(HttpResponseMessage response, ErrorDescriptor expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == (HttpStatusCode)expected.StatusCode, body);
        Assert.Equal(expected.Id, JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!.EmaErrorId);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("issuer")]
    [InlineData("token endpoint")]
    public async Task AuthorizationServer_ValidAssertion_AuthenticatesTheClient_AndIsSingleUse(string audience)
    {
        var assertion = Assertion(audience == "issuer" ? AsIssuer : AsToken);
        var response = await RedeemAsync(assertion);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        server.Remember(JsonSerializer.Deserialize(body, EmaJsonContext.Default.AccessTokenResponse)!.AccessToken);

        // RFC 7523 §3 item 7: the same assertion again is refused.
        await AssertInvalidClientAsync(await RedeemAsync(assertion), ErrorIds.ClientAssertionReplayed);
    }

    public static TheoryData<string> Refusals() =>
    [
        "signed by another key", "aud of another server", "aud naming this server and another", "expired", "exp too far ahead", "exp in year 9999",
        "iss not the client", "sub not the client", "no jti", "no exp", "alg none", "not a JWT",
    ];

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task AuthorizationServer_AssertionBreakingARule_IsInvalidClient_AndIssuesNothing(string rule)
    {
        var assertion = rule switch
        {
            "signed by another key" => Assertion(AsToken, TestKeys.AttackerEc()),
            "aud of another server" => Assertion(server.Issuer + "/token"),
            "aud naming this server and another" => Assertion(AsToken, mutate: c => c["aud"] = new[] { AsToken, "https://as.elsewhere.example" }), // rfc7523bis
            "exp in year 9999" => Assertion(AsToken, mutate: c => c["exp"] = 253_402_300_799L), // refused, never a 500
            "expired" => Assertion(AsToken, mutate: c => { c["iat"] = Now - 600; c["exp"] = Now - 120; }),
            "exp too far ahead" => Assertion(AsToken, mutate: c => c["exp"] = Now + 3600),
            "iss not the client" => Assertion(AsToken, mutate: c => c["iss"] = ClientId + "-x"),
            "sub not the client" => Assertion(AsToken, mutate: c => c["sub"] = "someone"),
            "no jti" => Assertion(AsToken, mutate: c => c.Remove("jti")),
            "no exp" => Assertion(AsToken, mutate: c => c.Remove("exp")),
            "alg none" => RawJwt.Unsigned("{\"alg\":\"none\"}", JsonSerializer.Serialize(new { iss = ClientId, sub = ClientId, aud = AsToken, jti = "x", exp = Now + 60 })),
            "not a JWT" => "not-a-jwt",
            _ => throw new ArgumentOutOfRangeException(nameof(rule)),
        };
        var before = await server.AuditCountAsync();
        var response = await RedeemAsync(assertion);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{rule}: {body}");
        Assert.Equal(ErrorCodes.InvalidClient, JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!.Error);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task ClientAssertion_WithASecretToo_OrAnotherType_OrForASecretClient_IsRefused()
    {
        // RFC 6749 §2.3: one method per request.
        await AssertInvalidClientAsync(await RedeemAsync(Assertion(AsToken), basic: Convert.ToBase64String("pkjwt-agent:secret"u8.ToArray())), ErrorIds.ClientAuthenticationMultipleMethods);
        await AssertInvalidClientAsync(await RedeemAsync(Assertion(AsToken), assertionType: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"), ErrorIds.ClientAuthenticationMalformed);
        await AssertInvalidClientAsync(await RedeemAsync(Assertion(AsToken), assertionType: null), ErrorIds.ClientAuthenticationMalformed);

        // A client registered for a secret cannot switch to an assertion (signed by whatever key).
        var forSecretClient = RawJwt.Sign($"{{\"alg\":\"ES256\",\"kid\":\"{_clientKey.KeyId}\"}}", JsonSerializer.Serialize(new { iss = Cli.DemoSeed.AgentClientId, sub = Cli.DemoSeed.AgentClientId, aud = AsToken, jti = "j", exp = Now + 60 }), _clientKey);
        await AssertInvalidClientAsync(await RedeemAsync(forSecretClient), ErrorIds.ClientAuthenticationMethodMismatch);
    }

    [Fact]
    public async Task IdentityProvider_ValidAssertion_AuthenticatesTheClient_InvalidOneIsInvalidClient()
    {
        // Past authentication, the grant itself decides: a made-up refresh token is invalid_grant, not invalid_client.
        var form = (string assertion) => new Dictionary<string, string> { ["grant_type"] = GrantTypes.RefreshToken, ["refresh_token"] = "not-a-refresh-token", ["client_assertion_type"] = ClientAssertionTypes.JwtBearer, ["client_assertion"] = assertion };
        var authenticated = await PostAsync(IdpToken, form(Assertion(server.Issuer)));
        var body = await authenticated.Content.ReadAsStringAsync();
        Assert.Equal(ErrorIds.RefreshTokenInvalid.Id, JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!.EmaErrorId);
        await AssertInvalidClientAsync(await PostAsync(IdpToken, form(Assertion(server.Issuer, TestKeys.AttackerEc()))), ErrorIds.ClientAssertionInvalid);
    }

    [Fact]
    public async Task EmaClient_SignsInWithPrivateKeyJwt_AtTheRealIdp()
    {
        // The client's own assertions (Ema.Client) verified by the IdP's verifier: the code redemption of the sign-in.
        var pem = "-----BEGIN PRIVATE KEY-----\n" + TestKeys.OtherIdpEcPkcs8 + "\n-----END PRIVATE KEY-----";
        var options = new EmaClientOptions { IdentityProvider = server.Issuer, IdentityProviderClient = ClientCredentials.WithPrivateKey(ClientId, pem), UseCatalog = false };
        using var client = await ClientHarness.SignedInAsync(server, "alice", options);
        Assert.Equal("alice", client.Session!.Username);
    }

    [Fact]
    public async Task Keys_Replaced_TheOldKeyStopsWorking_AndASecretCannotBeRotatedIn()
    {
        var operations = server.App.Services.GetRequiredService<Ema.Admin.AuthorizationServerOperations>();
        var admin = new Ema.Admin.Console.ConsoleUser("usr-admin", "admin", "Admin", ["admin"], DateTimeOffset.UnixEpoch, ["pwd", "mfa"], null);
        var rotated = await operations.RotateClientSecretAsync(admin, ClientId, default);
        Assert.False(rotated.Succeeded);
        Assert.Contains("replace its keys instead", rotated.Message, StringComparison.Ordinal);

        var newKey = TestKeys.AttackerEc();
        try
        {
            Assert.True((await operations.ReplaceClientKeysAsync(admin, ClientId, Jwks(newKey), default)).Succeeded);
            await AssertInvalidClientAsync(await RedeemAsync(Assertion(AsToken)), ErrorIds.ClientAssertionInvalid); // the old key
            var withNewKey = await RedeemAsync(Assertion(AsToken, newKey));
            Assert.True(withNewKey.IsSuccessStatusCode, await withNewKey.Content.ReadAsStringAsync());
            server.Remember(JsonSerializer.Deserialize(await withNewKey.Content.ReadAsStringAsync(), EmaJsonContext.Default.AccessTokenResponse)!.AccessToken);
        }
        finally
        {
            Assert.True((await operations.ReplaceClientKeysAsync(admin, ClientId, Jwks(_clientKey), default)).Succeeded);
        }
    }

    [Fact]
    public async Task Metadata_AdvertisesPrivateKeyJwt_AtBothServers()
    {
        foreach (var path in new[] { "/.well-known/openid-configuration/idp", "/.well-known/oauth-authorization-server/as" })
        {
            var metadata = JsonSerializer.Deserialize(await server.Http.GetStringAsync(server.BaseUrl + path), EmaJsonContext.Default.AuthorizationServerMetadata)!;
            Assert.Contains(ClientAuthenticationMethods.PrivateKeyJwt, metadata.TokenEndpointAuthMethodsSupported!);
            Assert.Contains(SecurityAlgorithms.EcdsaSha256, metadata.TokenEndpointAuthSigningAlgValuesSupported!);
        }
    }
}
