using System.Net;
using System.Text;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Ema.Testing;
using Ema.Tokens.IdJag;
using Ema.Tokens.Issuers;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>Token exchange → ID-JAG (ID-JAG draft §4.3; EMA-S §4; decisions 6–13), and the catalog (decision 20).</summary>
[Collection(EmaServerCollection.Name)]
public sealed class TokenExchangeTests(EmaServerFixture server)
{
    private string Tickets => server.BaseUrl + "/mcp/tickets";

    private string AsIssuer => server.BaseUrl + "/as";

    private (string, string) Agent => (DemoSeed.AgentClientId, server.Demo.ClientSecret);

    [Fact]
    public async Task Exchange_IdToken_ReturnsIdJagThatValidatesWithEmaTokensAndNarrowedScopes()
    {
        var carol = await server.SignInAsync("carol");
        var response = await server.TokenAsync(server.ExchangeForm(carol.Tokens.IdToken!, Tickets, scope: "tickets.read tickets.write"), Agent);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        var exchange = JsonSerializer.Deserialize(body, EmaJsonContext.Default.TokenExchangeResponse)!;
        server.Remember(exchange.AccessToken);
        Assert.Equal(TokenTypes.IdJag, exchange.IssuedTokenType);
        Assert.Equal("N_A", exchange.TokenType);
        Assert.Equal(300, exchange.ExpiresIn);
        Assert.Equal("tickets.read", exchange.Scope); // contractors are entitled to read only

        var validated = await ValidateAtAuthorizationServerAsync(exchange.AccessToken, AsIssuer, Tickets);
        Assert.True(validated.IsValid, validated.Error?.ToString());
        Assert.Equal("usr-carol", validated.Value!.Subject);
        Assert.Equal(DemoSeed.AgentClientId, validated.Value.ClientId);
        Assert.Equal(Tickets, validated.Value.Resource);
        Assert.Equal(["tickets.read"], validated.Value.Scopes);
        Assert.Equal(["pwd"], validated.Value.Amr!);
    }

    [Fact]
    public async Task Exchange_RefreshTokenSubject_ReturnsIdJag()
    {
        var alice = await server.SignInAsync("alice");
        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.RefreshToken!, server.BaseUrl + "/mcp/wiki", subjectTokenType: TokenTypes.RefreshToken), Agent);
        var exchange = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!;
        server.Remember(exchange.AccessToken);
        Assert.Equal("wiki.read", exchange.Scope);
    }

    [Fact]
    public async Task Exchange_ClientIdAtResource_IsWrittenIntoIdJag()
    {
        await server.App.Services.GetRequiredService<IApplicationStore>().SetClientIdAtResourceAsync(DemoSeed.AgentClientId, "res-external", "agent-at-external", default);
        var alice = await server.SignInAsync("alice");
        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, "https://mcp.external.example/mcp", "https://as.external.example/"), Agent);
        var exchange = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!;
        server.Remember(exchange.AccessToken);

        var claims = JsonDocument.Parse(Convert.FromBase64String(Pad(exchange.AccessToken.Split('.')[1]))).RootElement;
        Assert.Equal("agent-at-external", claims.GetProperty("client_id").GetString());

        // Decision 6: "https://as.external.example/" matched the registered issuer and the canonical form went into aud.
        Assert.Equal("https://as.external.example", claims.GetProperty("aud").GetString());
    }

    [Fact]
    public async Task Exchange_PolicyDenial_IsInvalidGrantWithDecisionIdOfItsAuditRecord()
    {
        var bob = await server.SignInAsync("bob");
        var before = await server.AuditCountAsync();
        var response = await server.TokenAsync(server.ExchangeForm(bob.Tokens.IdToken!, Tickets), Agent);

        await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.PolicyDenied);
        var error = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.OAuthErrorResponse)!;
        Assert.StartsWith("dec_", error.EmaDecisionId, StringComparison.Ordinal);
        Assert.Contains("Tickets", error.ErrorDescription, StringComparison.Ordinal);
        Assert.Equal(before + 1, await server.AuditCountAsync());
        var record = (await server.App.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { TokenId = error.EmaDecisionId }, default)).Single();
        Assert.Equal(AuditOutcomes.Denied, record.Outcome);
        Assert.Equal("usr-bob", record.Subject);
        Assert.Equal(Tickets, record.Resource);
    }

    [Fact]
    public async Task Exchange_Granted_WritesOneAuditRecordWithIdJagJti()
    {
        var alice = await server.SignInAsync("alice");
        var before = await server.AuditCountAsync();
        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, Tickets, scope: "tickets.write"), Agent);
        var exchange = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!;
        server.Remember(exchange.AccessToken);
        var jti = JsonDocument.Parse(Convert.FromBase64String(Pad(exchange.AccessToken.Split('.')[1]))).RootElement.GetProperty("jti").GetString();

        Assert.Equal(before + 1, await server.AuditCountAsync());
        var record = (await server.App.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { TokenId = jti }, default)).Single();
        Assert.Equal(AuditEventTypes.TokenExchange, record.Type);
        Assert.Equal(AuditOutcomes.Granted, record.Outcome);
        Assert.Equal("tickets.write", record.Scope);
        Assert.Equal(AsIssuer, record.Audience);
    }

    public static TheoryData<string, string, int, string> FormErrors() => new()
    {
        // name, mutation, expected status, expected error id
        { "missing subject_token", "-subject_token", 400, ErrorIds.MissingParameter.Id },
        { "missing audience", "-audience", 400, ErrorIds.AudienceRequired.Id },
        { "missing resource", "-resource", 400, ErrorIds.ResourceRequired.Id },
        { "missing requested_token_type", "-requested_token_type", 400, ErrorIds.MissingParameter.Id },
        { "unknown resource", "resource=https://unknown.example/mcp", 400, ErrorIds.ResourceUnknown.Id },
        { "unknown audience for a known resource", "audience=https://as.unknown.example", 400, ErrorIds.AudienceResourceMismatch.Id },
        { "audience of another resource's AS", "audience=https://as.external.example", 400, ErrorIds.AudienceResourceMismatch.Id },
        { "scope the resource does not define", "scope=tickets.admin", 400, ErrorIds.ScopeUnknown.Id },
        { "requested token type other than ID-JAG", "requested_token_type=urn:ietf:params:oauth:token-type:access_token", 400, ErrorIds.RequestedTokenTypeUnsupported.Id },
        { "SAML subject token type", "subject_token_type=urn:ietf:params:oauth:token-type:saml2", 400, ErrorIds.SubjectTokenTypeUnsupported.Id },
        { "garbage subject token", "subject_token=not.a.jwt", 400, ErrorIds.SubjectTokenInvalid.Id },
        { "actor token", "actor_token=x", 400, ErrorIds.ActorTokenUnsupported.Id },
        { "authorization_details not an array", "authorization_details={\"type\":\"payment_initiation\"}", 400, ErrorIds.AuthorizationDetailsMalformed.Id },
        { "authorization_details entry without a type", "authorization_details=[{\"actions\":[\"read\"]}]", 400, ErrorIds.AuthorizationDetailsMalformed.Id },
        { "authorization_details not JSON", "authorization_details=[{", 400, ErrorIds.AuthorizationDetailsMalformed.Id },
        { "authorization_details of a type the IdP does not support", "authorization_details=[{\"type\":\"payment_initiation\",\"actions\":[\"initiate\"]}]", 400, ErrorIds.AuthorizationDetailsUnsupported.Id },
        { "unsupported grant type", "grant_type=password", 400, ErrorIds.UnsupportedGrantType.Id },
    };

    [Theory]
    [MemberData(nameof(FormErrors))]
    public async Task Exchange_BadRequest_GetsSpecErrorIssuesNothingAndIsAudited(string name, string mutation, int status, string errorId)
    {
        var alice = await server.SignInAsync("alice");
        var form = server.ExchangeForm(alice.Tokens.IdToken!, Tickets);
        if (mutation.StartsWith('-'))
        {
            form.Remove(mutation[1..]);
        }
        else
        {
            var eq = mutation.IndexOf('=', StringComparison.Ordinal);
            form[mutation[..eq]] = mutation[(eq + 1)..];
        }

        var before = await server.AuditCountAsync();
        var response = await server.TokenAsync(form, Agent);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{name}: {body}");
        Assert.Equal(errorId, JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!.EmaErrorId);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task Exchange_WrongClientSecret_Is401InvalidClientWithBasicChallenge()
    {
        var alice = await server.SignInAsync("alice");
        var before = await server.AuditCountAsync();
        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, Tickets), (DemoSeed.AgentClientId, "wrong-secret-value"));
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, ErrorIds.ClientSecretInvalid);
        Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task Exchange_BasicAndPostCredentialsBoth_IsInvalidRequest()
    {
        var alice = await server.SignInAsync("alice");
        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, Tickets), Agent, new() { ["client_secret"] = server.Demo.ClientSecret });
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.ClientAuthenticationMultipleMethods);
    }

    [Fact]
    public async Task Exchange_SubjectTokenIssuedToAnotherClient_IsInvalidRequest()
    {
        var desktop = await server.SignInAsync("alice", "openid", clientId: DemoSeed.PublicClientId);
        var before = await server.AuditCountAsync();
        var response = await server.TokenAsync(server.ExchangeForm(desktop.Tokens.IdToken!, Tickets), Agent);
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.SubjectTokenClientMismatch);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task AuthorizationDetails_UnknownType_IsInvalidAuthorizationDetails_AndAnEmptyArrayAsksForNothing()
    {
        // ID-JAG §4.3.3 (parse as a JSON array, process per RFC 9396) with RFC 9396 §5 (unknown type → refuse).
        var alice = await server.SignInAsync("alice");
        var form = server.ExchangeForm(alice.Tokens.IdToken!, Tickets);
        form["authorization_details"] = "[{\"type\":\"tickets\"}]";
        var refused = await server.TokenAsync(form, Agent);
        var body = await refused.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(ErrorCodes.InvalidAuthorizationDetails, JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!.Error);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);

        form["authorization_details"] = "[]";
        var granted = await server.TokenAsync(form, Agent);
        var exchange = JsonSerializer.Deserialize(await granted.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!;
        server.Remember(exchange.AccessToken);
        var claims = JsonDocument.Parse(Convert.FromBase64String(Pad(exchange.AccessToken.Split('.')[1]))).RootElement;
        Assert.False(claims.TryGetProperty("authorization_details", out _));
    }

    [Fact]
    public async Task SubjectToken_WithAlteredSignatureOrFromAnotherIssuer_IsInvalidRequest()
    {
        // Spec §2(b)4: the IdP validates the identity assertion's signature and issuer (issuer = itself).
        var alice = await server.SignInAsync("alice");
        var parts = alice.Tokens.IdToken!.Split('.');
        var altered = parts[0] + "." + parts[1] + "." + (parts[2][0] == 'A' ? 'B' : 'A') + parts[2][1..];
        var payload = JsonSerializer.Deserialize<Dictionary<string, object>>(Convert.FromBase64String(Pad(parts[1])))!;
        payload["iss"] = "https://idp.elsewhere.example";
        var foreign = RawJwt.Sign("{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" + TestKeys.AttackerEc().KeyId + "\"}", JsonSerializer.Serialize(payload), TestKeys.AttackerEc());
        var reSignedByAnotherKey = RawJwt.Sign(Encoding.UTF8.GetString(Convert.FromBase64String(Pad(parts[0]))), Encoding.UTF8.GetString(Convert.FromBase64String(Pad(parts[1]))), TestKeys.AttackerEc());

        foreach (var token in new[] { altered, foreign, reSignedByAnotherKey })
        {
            var before = await server.AuditCountAsync();
            var response = await server.TokenAsync(server.ExchangeForm(token, Tickets), Agent);
            await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.SubjectTokenInvalid);
            Assert.Equal(before + 1, await server.AuditCountAsync());
        }
    }

    [Fact]
    public async Task SubjectRefreshToken_OfAnotherClientOrAlreadyRotated_IsRefused()
    {
        // Spec §2(b)3 MAY accept its own refresh tokens: then only the client's own, and only while active.
        var desktop = await server.SignInAsync("alice", "openid offline_access", clientId: DemoSeed.PublicClientId);
        var response = await server.TokenAsync(server.ExchangeForm(desktop.Tokens.RefreshToken!, Tickets, subjectTokenType: TokenTypes.RefreshToken), Agent);
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.SubjectTokenInvalid);

        var alice = await server.SignInAsync("alice");
        var rotated = await server.TokenAsync(new() { ["grant_type"] = GrantTypes.RefreshToken, ["refresh_token"] = alice.Tokens.RefreshToken! }, Agent);
        var renewed = JsonSerializer.Deserialize(await rotated.Content.ReadAsStringAsync(), EmaJsonContext.Default.AccessTokenResponse)!;
        server.Remember(renewed.AccessToken, renewed.IdToken, renewed.RefreshToken);
        var before = await server.AuditCountAsync();
        response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.RefreshToken!, Tickets, subjectTokenType: TokenTypes.RefreshToken), Agent);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task IdJag_Subject_IsTheIdTokensSubject_AndASingleTenantIdpSendsNoTenant()
    {
        // Spec §2(b)19–20: sub is what this IdP would put in an ID token for the AS as relying party — Ema's subject
        // identifiers are public (one per user, not per relying party), so the same value; a single-tenant IdP adds no tenant.
        var alice = await server.SignInAsync("alice");
        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, Tickets), Agent);
        var exchange = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!;
        server.Remember(exchange.AccessToken);
        var idJag = JsonDocument.Parse(Convert.FromBase64String(Pad(exchange.AccessToken.Split('.')[1]))).RootElement;
        var idToken = JsonDocument.Parse(Convert.FromBase64String(Pad(alice.Tokens.IdToken!.Split('.')[1]))).RootElement;
        Assert.Equal(idToken.GetProperty("sub").GetString(), idJag.GetProperty("sub").GetString());
        Assert.False(idJag.TryGetProperty("tenant", out _));
    }

    [Fact]
    public async Task IdentityProvider_NeverRedeemsAnIdJag_JwtBearerIsUnsupportedAtItsTokenEndpoint()
    {
        // Spec §2(b)24: the IdP issues ID-JAGs and never accepts one — its token endpoint has no jwt-bearer grant.
        var alice = await server.SignInAsync("alice");
        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, Tickets), Agent);
        var idJag = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken;
        server.Remember(idJag);
        var redeem = await server.TokenAsync(new() { ["grant_type"] = GrantTypes.JwtBearer, ["assertion"] = idJag }, Agent);
        var body = await redeem.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, redeem.StatusCode);
        Assert.Equal(ErrorIds.UnsupportedGrantType.Id, JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!.EmaErrorId);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exchange_PublicClientWithoutPermission_IsInvalidClient()
    {
        var desktop = await server.SignInAsync("alice", "openid", clientId: DemoSeed.PublicClientId);
        var response = await server.TokenAsync(server.ExchangeForm(desktop.Tokens.IdToken!, Tickets), extra: new() { ["client_id"] = DemoSeed.PublicClientId });
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, ErrorIds.PublicClientTokenExchangeNotAllowed);
    }

    [Fact]
    public async Task Exchange_ScopeNotEntitled_IsInvalidScope()
    {
        var carol = await server.SignInAsync("carol");
        var response = await server.TokenAsync(server.ExchangeForm(carol.Tokens.IdToken!, Tickets, scope: "tickets.write"), Agent);
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.ScopeNotEntitled);
    }

    [Fact]
    public async Task Exchange_DisabledUser_IsInvalidGrant()
    {
        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        await directory.CreateUserAsync(new User("usr-erin", "erin", "Erin Eng", null, UserStatus.Active), server.App.Services.GetRequiredService<PasswordHasher>().Hash("erin-pass-12345"), default);
        await directory.AddGroupMemberAsync("grp-engineering", "usr-erin", default);
        server.Demo.Users.Add(new DemoUser { Username = "erin", Password = "erin-pass-12345" });
        var erin = await server.SignInAsync("erin");
        await directory.SetUserStatusAsync("usr-erin", UserStatus.Disabled, default);

        var before = await server.AuditCountAsync();
        var response = await server.TokenAsync(server.ExchangeForm(erin.Tokens.IdToken!, Tickets), Agent);
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.UserDisabled);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task Exchange_DisabledClient_IsInvalidClient()
    {
        var applications = server.App.Services.GetRequiredService<IApplicationStore>();
        var secret = SecretHasher.NewSecret();
        server.Remember(secret);
        await applications.CreateClientAsync(new ClientApplication { ClientId = "tmp-disabled", Name = "Temp", AuthenticationMethod = ClientAuthenticationMethods.ClientSecretPost, SecretHash = SecretHasher.Hash(secret), GrantTypes = [GrantTypes.TokenExchange], TokenExchangeAllowed = true }, default);
        await applications.SetClientEnabledAsync("tmp-disabled", false, default);
        var alice = await server.SignInAsync("alice");

        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, Tickets), extra: new() { ["client_id"] = "tmp-disabled", ["client_secret"] = secret });
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.Unauthorized, ErrorIds.ClientDisabled);
    }

    [Fact]
    public async Task Exchange_RepeatedParameter_IsInvalidRequest()
    {
        var alice = await server.SignInAsync("alice");
        var body = StrictFormParser.Encode([.. server.ExchangeForm(alice.Tokens.IdToken!, Tickets), new("subject_token", alice.Tokens.IdToken!)]);
        var request = new HttpRequestMessage(HttpMethod.Post, server.Issuer + "/token") { Content = new StringContent(body, System.Text.Encoding.UTF8, MediaTypes.FormUrlEncoded) };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{DemoSeed.AgentClientId}:{server.Demo.ClientSecret}")));
        var before = await server.AuditCountAsync();
        await SignInTests.AssertErrorAsync(await server.Http.SendAsync(request), HttpStatusCode.BadRequest, ErrorIds.FormRepeatedParameter);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task Exchange_WrongContentType_IsInvalidRequest()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, server.Issuer + "/token") { Content = new StringContent("{\"grant_type\":\"urn:ietf:params:oauth:grant-type:token-exchange\"}", System.Text.Encoding.UTF8, "application/json") };
        var before = await server.AuditCountAsync();
        await SignInTests.AssertErrorAsync(await server.Http.SendAsync(request), HttpStatusCode.BadRequest, ErrorIds.FormWrongContentType);
        Assert.Equal(before + 1, await server.AuditCountAsync());
    }

    [Fact]
    public async Task Exchange_AfterSignOut_CachedSubjectTokenIsRefused()
    {
        var alice = await server.SignInAsync("alice");

        // Exchanged once first, so the ID token sits in the verified-subject-token cache when the session ends.
        var before = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, Tickets), Agent);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        server.Remember(await before.Content.ReadAsStringAsync());
        var signOut = await alice.Browser.GetAsync(server.Issuer + "/endsession");
        Assert.Equal(HttpStatusCode.OK, signOut.StatusCode);

        var response = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, Tickets), Agent);
        await SignInTests.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.SubjectTokenInvalid);
    }

    [Fact]
    public async Task Catalog_ListsEntitledServersForUserAndClient()
    {
        var alice = await CatalogAsync("alice");
        Assert.Contains(alice.Servers, s => s.Name == "Tickets" && s.Scopes.SequenceEqual(["tickets.read", "tickets.write"]) && s.AuthorizationServer == AsIssuer);
        Assert.Contains(alice.Servers, s => s.Name == "Wiki");
        Assert.DoesNotContain(alice.Servers, s => s.Name == "Ledger");

        var bob = await CatalogAsync("bob");
        Assert.Equal(["Ledger", "Wiki"], bob.Servers.Select(s => s.Name).Order());
    }

    private async Task<CatalogResponse> CatalogAsync(string username)
    {
        var signIn = await server.SignInAsync(username);
        var request = new HttpRequestMessage(HttpMethod.Get, server.Issuer + "/ema/v1/catalog");
        request.Headers.Authorization = new("Bearer", signIn.Tokens.AccessToken);
        var response = await server.Http.SendAsync(request);
        return JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), EmaJsonContext.Default.CatalogResponse)!;
    }

    private async Task<IdJagValidationResult> ValidateAtAuthorizationServerAsync(string idJag, string asIssuer, string resource)
    {
        var keys = new HttpJwksKeySource(TrustedHttp.Client(server.Ca), new HttpJwksKeySourceOptions { MetadataUri = new Uri(server.Issuer + "/.well-known/openid-configuration"), Issuer = server.Issuer }, TimeProvider.System);
        var validator = new IdJagValidator(new InMemoryTrustedIssuerRegistry([new TrustedIssuer { Issuer = server.Issuer, Keys = keys }]), new InMemoryReplayCache(TimeProvider.System), TimeProvider.System);
        return await validator.ValidateAsync(new IdJagValidationRequest { Assertion = idJag, AuthenticatedClientId = DemoSeed.AgentClientId, AuthorizationServerIssuer = asIssuer, ServedResources = [resource] }, default);
    }

    internal static string Pad(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s.PadRight((s.Length + 3) / 4 * 4, '=');
    }
}
