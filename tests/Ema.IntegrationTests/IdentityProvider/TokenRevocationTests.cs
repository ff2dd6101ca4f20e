using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>RFC 7009 at the IdP, on real https and a real SQLite file: what is revoked, what is refused, what is ignored.</summary>
[Collection(EmaServerCollection.Name)]
public sealed class TokenRevocationTests(EmaServerFixture server)
{
    private (string, string) Agent => (DemoSeed.AgentClientId, server.Demo.ClientSecret);

    [Fact]
    public async Task TokenRevocation_RefreshToken_RevokesItsWholeFamily_WithOneAuditRecord()
    {
        var signIn = await server.SignInAsync("bob");
        var first = signIn.Tokens.RefreshToken!;
        using var rotated = await RefreshAsync(first, Agent);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        var second = JsonDocument.Parse(await rotated.Content.ReadAsStringAsync()).RootElement.GetProperty("refresh_token").GetString()!;
        server.Secrets.Add(second);

        var auditBefore = await server.AuditCountAsync();
        using var revoked = await RevokeAsync(new() { ["token"] = first, ["token_type_hint"] = "refresh_token" }, Agent);
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.Equal(string.Empty, await revoked.Content.ReadAsStringAsync());
        Assert.Equal(auditBefore + 1, await server.AuditCountAsync());
        var sid = Ema.Client.SignIn.JwtPayload.String(Ema.Client.SignIn.JwtPayload.Read(signIn.Tokens.IdToken!), JwtClaimNames.SessionId);
        var records = await server.App.Services.GetRequiredService<Ema.Server.Audit.IAuditReader>().ListAsync(new Ema.Server.Audit.AuditQuery { Type = Ema.Server.Audit.AuditEventTypes.TokenRevocation, Limit = 1000 }, default);
        var record = Assert.Single(records, e => e.SessionId == sid);
        Assert.Equal((DemoSeed.AgentClientId, "usr-bob", Ema.Server.Audit.AuditOutcomes.Succeeded), (record.ClientId, record.Subject, record.Outcome));
        Assert.NotNull(record.TokenId); // the refresh-token family

        // The rotated successor belonged to the same grant: it is revoked too (RFC 7009 §2.1).
        using var refused = await RefreshAsync(second, Agent);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("invalid_grant", await ErrorAsync(refused));

        // Revoking again is not an error (§2.2).
        using var again = await RevokeAsync(new() { ["token"] = second }, Agent);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task TokenRevocation_SignsTheClientOutOfTheSession_ItsIdTokensNoLongerYieldIdJags_ANewSignInDoes()
    {
        var signIn = await server.SignInAsync("bob");
        var ledger = server.BaseUrl + "/mcp/ledger";
        Assert.Equal(HttpStatusCode.OK, await ExchangeStatusAsync(signIn.Tokens.IdToken!, ledger));

        // `ema logout`: the refresh token is revoked (RFC 7009). The ID token the client held — which someone may have
        // copied — is refused from then on, although it has not expired; so is one issued in the revocation's second.
        using (var revoked = await RevokeAsync(new() { ["token"] = signIn.Tokens.RefreshToken! }, Agent))
        {
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        }

        using (var after = await server.TokenAsync(server.ExchangeForm(signIn.Tokens.IdToken!, ledger), Agent))
        {
            Assert.Equal(HttpStatusCode.BadRequest, after.StatusCode);
            Assert.Equal("invalid_request", await ErrorAsync(after)); // the ID-JAG draft's answer for a subject token it refuses
            Assert.Contains(server.Logs.Lines, l => l.Contains("the client signed out of this session", StringComparison.Ordinal));
        }

        // Signing in again in the same browser session (SSO: the same IdP session) once that second has passed: its ID
        // tokens work.
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        var again = await server.SignInAsync("bob", cookies: signIn.Cookies);
        Assert.Equal(SessionId(signIn.Tokens.IdToken!), SessionId(again.Tokens.IdToken!));
        Assert.Equal(HttpStatusCode.OK, await ExchangeStatusAsync(again.Tokens.IdToken!, ledger));

        // Replaying the dead family's refresh token (a reuse) signs nobody out again: the new sign-in keeps working.
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        using (var replay = await RefreshAsync(signIn.Tokens.RefreshToken!, Agent))
        {
            Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, await ExchangeStatusAsync(again.Tokens.IdToken!, ledger));
    }

    private async Task<HttpStatusCode> ExchangeStatusAsync(string idToken, string resource)
    {
        using var response = await server.TokenAsync(server.ExchangeForm(idToken, resource), Agent);
        server.Remember(await response.Content.ReadAsStringAsync());
        return response.StatusCode;
    }

    private static string? SessionId(string idToken) =>
        Ema.Client.SignIn.JwtPayload.String(Ema.Client.SignIn.JwtPayload.Read(idToken), JwtClaimNames.SessionId);

    [Fact]
    public async Task TokenRevocation_UnknownToken_Answers200_AndRevokesNothing()
    {
        var signIn = await server.SignInAsync("bob");
        var auditBefore = await server.AuditCountAsync();
        using var unknown = await RevokeAsync(new() { ["token"] = "not-a-token-this-idp-issued" }, Agent);
        Assert.Equal(HttpStatusCode.OK, unknown.StatusCode);
        Assert.Equal(auditBefore + 1, await server.AuditCountAsync());

        using var stillValid = await RefreshAsync(signIn.Tokens.RefreshToken!, Agent);
        Assert.Equal(HttpStatusCode.OK, stillValid.StatusCode);
    }

    [Fact]
    public async Task TokenRevocation_TokenOfAnotherClient_IsRefused_AndStaysUsable()
    {
        var publicSignIn = await server.SignInAsync("bob", clientId: DemoSeed.PublicClientId);
        var auditBefore = await server.AuditCountAsync();
        using var refused = await RevokeAsync(new() { ["token"] = publicSignIn.Tokens.RefreshToken! }, Agent);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("unauthorized_client", await ErrorAsync(refused));
        Assert.Equal(auditBefore + 1, await server.AuditCountAsync());

        using var stillValid = await server.TokenAsync(new() { ["grant_type"] = GrantTypes.RefreshToken, ["refresh_token"] = publicSignIn.Tokens.RefreshToken!, ["client_id"] = DemoSeed.PublicClientId });
        Assert.Equal(HttpStatusCode.OK, stillValid.StatusCode);
    }

    [Fact]
    public async Task TokenRevocation_NeedsClientAuthentication_AndRevokesNothingWithout()
    {
        var signIn = await server.SignInAsync("bob");
        var token = signIn.Tokens.RefreshToken!;

        using var anonymous = await RevokeAsync(new() { ["token"] = token }, null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("invalid_client", await ErrorAsync(anonymous));

        using var wrongSecret = await RevokeAsync(new() { ["token"] = token }, (DemoSeed.AgentClientId, "not-the-secret"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrongSecret.StatusCode);
        Assert.Contains(wrongSecret.Headers.WwwAuthenticate, h => h.Scheme == "Basic");

        using var noToken = await RevokeAsync([], Agent);
        Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        Assert.Equal("invalid_request", await ErrorAsync(noToken));

        using var stillValid = await RefreshAsync(token, Agent);
        Assert.Equal(HttpStatusCode.OK, stillValid.StatusCode);
    }

    [Fact]
    public async Task TokenRevocation_AccessOrIdToken_IsUnsupportedTokenType()
    {
        var signIn = await server.SignInAsync("bob");
        foreach (var jwt in new[] { signIn.Tokens.AccessToken, signIn.Tokens.IdToken! })
        {
            using var response = await RevokeAsync(new() { ["token"] = jwt, ["token_type_hint"] = "access_token" }, Agent);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("unsupported_token_type", await ErrorAsync(response));
        }

        // A string that merely has two dots is not a JWT: an unknown token (§2.2), not an unsupported type.
        using var dotted = await RevokeAsync(new() { ["token"] = "a.b.c" }, Agent);
        Assert.Equal(HttpStatusCode.OK, dotted.StatusCode);
    }

    [Fact]
    public async Task AuditRecords_OfFailedClientAuthentication_CutUnauthenticatedValues_AtTheRevocationAndTokenEndpoints()
    {
        var reader = server.App.Services.GetRequiredService<Ema.Server.Audit.IAuditReader>();
        using var refused = await RevokeAsync(new() { ["token"] = "x", ["client_id"] = new string('c', 5000) }, null);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        var revocations = await reader.ListAsync(new Ema.Server.Audit.AuditQuery { Type = Ema.Server.Audit.AuditEventTypes.TokenRevocation, Limit = 50 }, default);
        var record = Assert.Single(revocations, e => e.ClientId?.StartsWith("cccc", StringComparison.Ordinal) == true);
        Assert.Equal(Ema.Server.Audit.AuditValues.MaxUntrustedLength + 1, record.ClientId!.Length);

        // The token endpoint: an unknown grant type and an unknown client, each as long as the form allows.
        using var badGrant = await server.TokenAsync(new() { ["grant_type"] = new string('g', 5000), ["client_id"] = new string('d', 5000) });
        Assert.Equal(HttpStatusCode.BadRequest, badGrant.StatusCode);
        using var badClient = await server.TokenAsync(new() { ["grant_type"] = GrantTypes.RefreshToken, ["refresh_token"] = "x", ["client_id"] = new string('e', 5000) });
        Assert.Equal(HttpStatusCode.Unauthorized, badClient.StatusCode);
        var tokenRecords = await reader.ListAsync(new Ema.Server.Audit.AuditQuery { Outcome = Ema.Server.Audit.AuditOutcomes.Denied, Limit = 200 }, default);
        var grantRecord = Assert.Single(tokenRecords, e => e.ClientId?.StartsWith("dddd", StringComparison.Ordinal) == true);
        Assert.Equal((257, 257), (grantRecord.ClientId!.Length, grantRecord.Action!.Length));
        Assert.Equal(257, Assert.Single(tokenRecords, e => e.ClientId?.StartsWith("eeee", StringComparison.Ordinal) == true).ClientId!.Length);
    }

    [Fact]
    public async Task TokenRevocation_IsAdvertisedInTheDiscoveryDocument()
    {
        var discovery = JsonDocument.Parse(await server.Http.GetStringAsync(server.Issuer + "/.well-known/openid-configuration")).RootElement;
        Assert.Equal(server.Issuer + "/revoke", discovery.GetProperty("revocation_endpoint").GetString());
        Assert.Contains("client_secret_basic", discovery.GetProperty("revocation_endpoint_auth_methods_supported").EnumerateArray().Select(e => e.GetString()));
    }

    private Task<HttpResponseMessage> RefreshAsync(string refreshToken, (string Id, string Secret) client) =>
        server.TokenAsync(new() { ["grant_type"] = GrantTypes.RefreshToken, ["refresh_token"] = refreshToken }, basic: client);

    private Task<HttpResponseMessage> RevokeAsync(Dictionary<string, string> form, (string Id, string Secret)? client)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, server.Issuer + "/revoke") { Content = new FormUrlEncodedContent(form) };
        if (client is { } credentials)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(credentials.Id)}:{Uri.EscapeDataString(credentials.Secret)}")));
        }

        return server.Http.SendAsync(request);
    }

    private static async Task<string?> ErrorAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
}
