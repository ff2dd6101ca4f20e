using System.Net;
using System.Text;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Stores;
using Ema.Testing;
using Ema.Tokens.Keys;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.AuthorizationServer;

/// <summary>
/// The foundation's hostile ID-JAG cases, sent to the running authorization server over https: each is refused with
/// its error, issues no token and leaves one audit record. Two test IdPs are trusted through inline JWKS of the fixed test
/// keys (tenants "hostile-a" and "hostile-b"), so the tests can sign whatever an attacker — or a compromised IdP — could.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed class HostileAssertionTests(EmaServerFixture server) : IAsyncLifetime
{
    private const string IssuerA = "https://idp.tenant-a.example";
    private const string IssuerB = "https://idp.tenant-b.example";
    private const string NoJitIssuer = "https://idp.nojit.example";
    private const string MultiTenantIssuer = "https://idp.multi-tenant.example";
    private readonly SigningKey _keyA = TestKeys.IdpEc();
    private readonly SigningKey _keyB = TestKeys.OtherIdpEc();
    private readonly SigningKey _attacker = TestKeys.AttackerEc();

    private string AsIssuer => server.BaseUrl + "/as";

    private string Tickets => server.BaseUrl + "/mcp/tickets";

    public async Task InitializeAsync()
    {
        var store = server.App.Services.GetRequiredService<IAuthorizationServerStore>();
        await store.CreateTenantAsync(new Tenant("hostile-a", "Tenant A"), default);
        await store.CreateTenantAsync(new Tenant("hostile-b", "Tenant B"), default);
        await store.CreateTrustedIssuerAsync(new TrustedIssuerRegistration { Issuer = IssuerA, TenantId = "hostile-a", InlineJwks = Jwks(_keyA), AllowedAlgorithms = ["ES256"] }, default);
        await store.CreateTrustedIssuerAsync(new TrustedIssuerRegistration { Issuer = IssuerB, TenantId = "hostile-b", InlineJwks = Jwks(_keyB) }, default);
        await store.CreateTrustedIssuerAsync(new TrustedIssuerRegistration { Issuer = NoJitIssuer, TenantId = "hostile-a", InlineJwks = Jwks(_keyA), JitProvisioning = false }, default);
        await store.CreateTrustedIssuerAsync(new TrustedIssuerRegistration { Issuer = MultiTenantIssuer, TenantId = "hostile-b", IssuerTenant = "acme", InlineJwks = Jwks(_keyA) }, default);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private static string Jwks(SigningKey key) => JsonSerializer.Serialize(new JsonWebKeySetDocument { Keys = [key.PublicKey.Jwk] }, EmaJsonContext.Default.JsonWebKeySetDocument);

    private long Now => DateTimeOffset.FromUnixTimeSeconds(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds()).ToUnixTimeSeconds();

    private Dictionary<string, object?> Claims(string issuer = IssuerA) => new()
    {
        ["iss"] = issuer,
        ["sub"] = "u-1",
        ["aud"] = AsIssuer,
        ["client_id"] = DemoSeed.AgentClientId,
        ["jti"] = "jti-" + Guid.NewGuid().ToString("N"),
        ["iat"] = Now,
        ["exp"] = Now + 300,
        ["resource"] = Tickets,
        ["scope"] = "tickets.read",
    };

    private string Header(string alg = "ES256", string? typ = "oauth-id-jag+jwt", string? kid = null, string extra = "")
    {
        var parts = new List<string> { $"\"alg\":\"{alg}\"" };
        if (typ is not null)
        {
            parts.Add($"\"typ\":\"{typ}\"");
        }

        parts.Add($"\"kid\":\"{kid ?? _keyA.KeyId}\"");
        if (extra.Length > 0)
        {
            parts.Add(extra);
        }

        return "{" + string.Join(",", parts) + "}";
    }

    private string Sign(Action<Dictionary<string, object?>>? mutate = null, string? header = null, SigningKey? key = null, string issuer = IssuerA)
    {
        var claims = Claims(issuer);
        mutate?.Invoke(claims);
        return RawJwt.Sign(header ?? Header(kid: (key ?? _keyA).KeyId), JsonSerializer.Serialize(claims), key ?? _keyA);
    }

    public static TheoryData<string> Cases() =>
    [
        "typ missing", "typ JWT", "alg none", "HS256 with the public key", "alg not allowed for the issuer", "unknown kid", "attacker key",
        "key of another trusted issuer", "expired", "not yet valid", "issued in the future", "lifetime too long", "aud prefix", "aud with trailing slash",
        "aud array of two", "iss untrusted", "client_id of another client", "resource not served", "jti missing", "sub missing", "duplicate claim",
        "cnf without proof", "crit header", "malformed", "encrypted (JWE)", "oversized",
        "tenant of another organization", "tenant missing at a multi-tenant issuer",
        "authorization_details of an unknown type", "authorization_details not an array",
    ];

    private (string Assertion, ErrorDescriptor Expected) Build(string name) => name switch
    {
        "typ missing" => (Sign(header: Header(typ: null)), ErrorIds.IdJagTypeInvalid),
        "typ JWT" => (Sign(header: Header(typ: "JWT")), ErrorIds.IdJagTypeInvalid),
        "alg none" => (RawJwt.Unsigned(Header(alg: "none"), JsonSerializer.Serialize(Claims())), ErrorIds.IdJagAlgorithmNotAllowed),
        "HS256 with the public key" => (RawJwt.Hmac(Header(alg: "HS256"), JsonSerializer.Serialize(Claims()), Encoding.UTF8.GetBytes(Jwks(_keyA))), ErrorIds.IdJagAlgorithmNotAllowed),
        "alg not allowed for the issuer" => (RawJwt.Sign(Header(alg: "RS256", kid: "rsa"), JsonSerializer.Serialize(Claims()), TestKeys.IdpRsa()), ErrorIds.IdJagAlgorithmNotAllowed),
        "unknown kid" => (Sign(header: Header(kid: "nope")), ErrorIds.IdJagKeyNotFound),
        "attacker key" => (Sign(header: Header(kid: _keyA.KeyId), key: _attacker), ErrorIds.IdJagSignatureInvalid),
        "key of another trusted issuer" => (Sign(key: _keyB), ErrorIds.IdJagKeyNotFound),
        "expired" => (Sign(c => { c["iat"] = Now - 500; c["exp"] = Now - 200; }), ErrorIds.IdJagExpired),
        "not yet valid" => (Sign(c => c["nbf"] = Now + 300), ErrorIds.IdJagNotYetValid),
        "issued in the future" => (Sign(c => { c["iat"] = Now + 300; c["exp"] = Now + 500; }), ErrorIds.IdJagIssuedInFuture),
        "lifetime too long" => (Sign(c => c["exp"] = Now + 3600), ErrorIds.IdJagLifetimeTooLong),
        "aud prefix" => (Sign(c => c["aud"] = server.BaseUrl + "/a"), ErrorIds.IdJagAudienceMismatch),
        "aud with trailing slash" => (Sign(c => c["aud"] = AsIssuer + "/"), ErrorIds.IdJagAudienceMismatch),
        "aud array of two" => (Sign(c => c["aud"] = new[] { AsIssuer, "https://as.other.example" }), ErrorIds.IdJagAudienceMultiple),
        "iss untrusted" => (Sign(c => c["iss"] = "https://idp.evil.example"), ErrorIds.IdJagIssuerUntrusted),
        "client_id of another client" => (Sign(c => c["client_id"] = "someone-else"), ErrorIds.IdJagClientMismatch),
        "resource not served" => (Sign(c => c["resource"] = "https://mcp.elsewhere.example/mcp"), ErrorIds.IdJagResourceNotServed),
        "jti missing" => (Sign(c => c.Remove("jti")), ErrorIds.IdJagJtiMissing),
        "sub missing" => (Sign(c => c.Remove("sub")), ErrorIds.IdJagSubjectMissing),
        "duplicate claim" => (RawJwt.Sign(Header(), JsonSerializer.Serialize(Claims()).TrimEnd('}') + ",\"sub\":\"admin\"}", _keyA), ErrorIds.IdJagPayloadMalformed),
        "cnf without proof" => (Sign(c => c["cnf"] = new Dictionary<string, string> { ["jkt"] = "abc" }), ErrorIds.IdJagConfirmationUnsupported),
        "crit header" => (Sign(header: Header(extra: "\"crit\":[\"exp\"]")), ErrorIds.IdJagCriticalHeader),
        "malformed" => ("not.a-jwt", ErrorIds.IdJagMalformed),
        "encrypted (JWE)" => ("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", ErrorIds.IdJagEncrypted),
        "oversized" => (Sign(c => c["pad"] = new string('x', 20_000)), ErrorIds.IdJagTooLarge),
        "tenant of another organization" => (Sign(c => c["tenant"] = "globex", issuer: MultiTenantIssuer), ErrorIds.IdJagTenantMismatch),
        "tenant missing at a multi-tenant issuer" => (Sign(issuer: MultiTenantIssuer), ErrorIds.IdJagTenantMismatch),
        "authorization_details of an unknown type" => (Sign(c => c["authorization_details"] = new[] { new Dictionary<string, string> { ["type"] = "payment_initiation" } }), ErrorIds.IdJagAuthorizationDetailsUnsupported),
        "authorization_details not an array" => (Sign(c => c["authorization_details"] = "payment_initiation"), ErrorIds.IdJagAuthorizationDetailsMalformed),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task HostileIdJag_OverHttps_IsRefusedIssuesNothingAndIsAudited(string name)
    {
        var (assertion, expected) = Build(name);
        var before = await server.AuditCountAsync();
        var response = await RedeemAsync(assertion);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{name}: {(int)response.StatusCode} {body}");
        var error = JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!;
        Assert.Equal(expected.Code, error.Error);
        Assert.Equal(expected.Id, error.EmaErrorId);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task Tenants_SameSubjectFromTwoIdps_ReachesTwoDifferentAccounts()
    {
        var fromA = await RedeemOkAsync(Sign());
        var fromB = await RedeemOkAsync(Sign(key: _keyB, issuer: IssuerB));
        var again = await RedeemOkAsync(Sign());

        Assert.NotEqual(fromA, fromB); // "u-1" at IdP A is not "u-1" at IdP B: no personal/enterprise or tenant mix-ups
        Assert.Equal(fromA, again);    // the same (tenant, iss, sub) always resolves to the same account
        var store = server.App.Services.GetRequiredService<IAuthorizationServerStore>();
        Assert.Equal("hostile-a", (await store.FindAccountAsync("hostile-a", IssuerA, "u-1", default))!.TenantId);
        Assert.Null(await store.FindAccountAsync("hostile-a", IssuerB, "u-1", default));
    }

    [Fact]
    public async Task Tenant_AtAMultiTenantIssuer_OnlyTheRegisteredIdpTenantIsAccepted()
    {
        // spec-requirements §2(c)16, ID-JAG §6: the registration's IdP tenant is what the running server checks.
        var subject = await RedeemOkAsync(Sign(c => c["tenant"] = "acme", issuer: MultiTenantIssuer));
        var store = server.App.Services.GetRequiredService<IAuthorizationServerStore>();
        Assert.Equal(subject, (await store.FindAccountAsync("hostile-b", MultiTenantIssuer, "u-1", default))!.Id);

        var refused = await RedeemAsync(Sign(c => c["tenant"] = "ACME", issuer: MultiTenantIssuer)); // compared exactly
        var error = JsonSerializer.Deserialize(await refused.Content.ReadAsStringAsync(), EmaJsonContext.Default.OAuthErrorResponse)!;
        Assert.Equal(ErrorIds.IdJagTenantMismatch.Id, error.EmaErrorId);
    }

    [Fact]
    public async Task Accounts_JitOffAndUnknownSubject_IsInvalidGrant()
    {
        var response = await RedeemAsync(Sign(issuer: NoJitIssuer));
        var error = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.OAuthErrorResponse)!;
        Assert.Equal(ErrorIds.AccountNotProvisioned.Id, error.EmaErrorId);
    }

    [Fact]
    public async Task Scopes_UnknownToTheResource_AreDroppedAndAudited()
    {
        var response = await RedeemAsync(Sign(c => c["scope"] = "tickets.read tickets.admin"));
        var tokens = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.AccessTokenResponse)!;
        server.Remember(tokens.AccessToken);
        Assert.Equal("tickets.read", tokens.Scope);

        // Decision 9: the dropped scope is recorded in the redemption's audit record (found by the access token's jti).
        var jti = AuthorizationServerTests.Claim(tokens.AccessToken, "jti");
        var records = await server.App.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { TokenId = jti }, default);
        var record = Assert.Single(records);
        Assert.Equal(AuditOutcomes.Granted, record.Outcome);
        Assert.Contains("tickets.admin", record.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("tickets.read", record.Reason, StringComparison.Ordinal);
    }

    private async Task<string> RedeemOkAsync(string assertion)
    {
        var response = await RedeemAsync(assertion);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        var token = JsonSerializer.Deserialize(body, EmaJsonContext.Default.AccessTokenResponse)!.AccessToken;
        server.Remember(token);
        return AuthorizationServerTests.Claim(token, "sub");
    }

    private Task<HttpResponseMessage> RedeemAsync(string assertion)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, AsIssuer + "/token") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = GrantTypes.JwtBearer, ["assertion"] = assertion }) };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{DemoSeed.AgentClientId}:{server.Demo.AuthorizationServerClientSecret}")));
        return server.Http.SendAsync(request);
    }
}
