using System.Net;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>RFC 8628 at the IdP over https: start, pending, slow down, approval on the verification page, one redemption.</summary>
[Collection(EmaServerCollection.Name)]
public sealed class DeviceAuthorizationTests(EmaServerFixture server)
{
    [Fact]
    public async Task DeviceFlow_PendingUntilApproved_ThenTokensOnce_AndOnlyForTheClientThatStartedIt()
    {
        var device = await StartAsync();
        Assert.Matches("^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$", device.UserCode);
        Assert.Equal(server.Issuer + DevicePaths.Verification, device.VerificationUri);

        var pending = await PollAsync(device.DeviceCode);
        Assert.Equal("authorization_pending", await ErrorAsync(pending));
        Assert.Equal("slow_down", await ErrorAsync(await PollAsync(device.DeviceCode))); // again at once: too fast

        var auditBefore = await server.AuditCountAsync();
        var approved = await ApproveAsync(device.VerificationUriComplete!, "alice", server.Password("alice"));
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        Assert.Contains("Device connected", await approved.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(auditBefore + 1, await server.AuditCountAsync()); // the sign-in

        var foreign = await PollAsync(device.DeviceCode, (DemoSeed.PublicClientId, null));
        Assert.Equal("unauthorized_client", await ErrorAsync(foreign)); // another client cannot redeem it (nor use the grant)

        var tokens = await PollAsync(device.DeviceCode);
        var body = await tokens.Content.ReadAsStringAsync();
        Assert.True(tokens.IsSuccessStatusCode, body);
        var issued = JsonSerializer.Deserialize(body, EmaJsonContext.Default.AccessTokenResponse)!;
        server.Remember(issued.IdToken, issued.AccessToken, issued.RefreshToken);
        Assert.NotNull(issued.IdToken);
        Assert.NotNull(issued.RefreshToken);
        Assert.Equal("invalid_grant", await ErrorAsync(await PollAsync(device.DeviceCode))); // used once
    }

    [Fact]
    public async Task DeviceVerification_WrongPassword_DoesNotApprove()
    {
        var device = await StartAsync();
        var response = await ApproveAsync(device.VerificationUriComplete!, "alice", "wrong-password");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("incorrect", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromSeconds(DeviceAuthorizationServiceInterval));
        Assert.Equal("authorization_pending", await ErrorAsync(await PollAsync(device.DeviceCode)));
    }

    [Fact]
    public async Task DeviceAuthorization_WithoutClientAuthentication_IsInvalidClient()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, server.Issuer + DevicePaths.Authorization) { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = DemoSeed.AgentClientId, ["scope"] = "openid" }) };
        var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_client", await ErrorAsync(response));
    }

    private const int DeviceAuthorizationServiceInterval = Ema.Server.IdentityProvider.DeviceAuthorizationService.PollingIntervalSeconds;

    private async Task<DeviceAuthorizationResponse> StartAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, server.Issuer + DevicePaths.Authorization) { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["scope"] = "openid profile offline_access" }) };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{DemoSeed.AgentClientId}:{server.Demo.ClientSecret}")));
        var response = await server.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        var device = JsonSerializer.Deserialize(body, EmaJsonContext.Default.DeviceAuthorizationResponse)!;
        server.Remember(device.DeviceCode);
        return device;
    }

    private Task<HttpResponseMessage> PollAsync(string deviceCode, (string Id, string? Secret)? client = null)
    {
        var (id, secret) = client ?? (DemoSeed.AgentClientId, server.Demo.ClientSecret);
        var form = new Dictionary<string, string> { ["grant_type"] = GrantTypes.DeviceCode, ["device_code"] = deviceCode };
        return secret is null
            ? server.TokenAsync(form, extra: new() { ["client_id"] = id })
            : server.TokenAsync(form, basic: (id, secret));
    }

    /// <summary>The person on the verification page: opens the complete URI (code prefilled), signs in.</summary>
    internal static async Task<HttpResponseMessage> ApproveAsync(EmaServerFixture server, string verificationUriComplete, string username, string password)
    {
        var browser = TrustedHttp.Client(server.Ca, new CookieContainer());
        var page = await browser.GetStringAsync(verificationUriComplete);
        var userCode = new Uri(verificationUriComplete).Query.Split('=')[1];
        return await browser.PostAsync(server.Issuer + DevicePaths.Verification, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__af"] = EmaServerFixture.HiddenInput(page, "__af"),
            ["user_code"] = Uri.UnescapeDataString(userCode),
            ["username"] = username,
            ["password"] = password,
        }));
    }

    private Task<HttpResponseMessage> ApproveAsync(string verificationUriComplete, string username, string password) => ApproveAsync(server, verificationUriComplete, username, password);

    private static async Task<string?> ErrorAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
}
