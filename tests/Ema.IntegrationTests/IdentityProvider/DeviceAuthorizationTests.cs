using System.Net;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Microsoft.Extensions.DependencyInjection;

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
    public async Task DeviceFlow_DisconnectAfterApproval_VoidsTheApproval()
    {
        // A user of its own: the disconnection must not touch the other tests' connections.
        var services = server.App.Services;
        var password = Ema.Server.Security.SecretHasher.NewSecret()[..16];
        server.Secrets.Add(password);
        Assert.True(await services.GetRequiredService<Ema.Server.Stores.IDirectoryStore>().CreateUserAsync(new Ema.Server.Model.User("usr-dora", "dora", "Dora", null, Ema.Server.Model.UserStatus.Active), services.GetRequiredService<Ema.Server.Security.PasswordHasher>().Hash(password), default));

        var device = await StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await ApproveAsync(device.VerificationUriComplete!, "dora", password)).StatusCode);
        var disconnected = await services.GetRequiredService<Ema.Admin.AdminOperations>().DisconnectClientAsync(new Ema.Admin.Console.ConsoleUser("usr-dora", "dora", "Dora", [], services.GetRequiredService<TimeProvider>().GetUtcNow(), [], null), DemoSeed.AgentClientId, default); // as "my connections" does
        Assert.True(disconnected.Succeeded, disconnected.Message);

        await Task.Delay(TimeSpan.FromSeconds(DeviceAuthorizationServiceInterval)); // poll no faster than told
        await SignInTests.AssertErrorAsync(await PollAsync(device.DeviceCode), HttpStatusCode.BadRequest, ErrorIds.ClientDisconnected);
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
    public async Task DeviceVerification_Deny_GivesTheDeviceAccessDenied()
    {
        var device = await StartAsync();
        var response = await ApproveAsync(device.VerificationUriComplete!, "alice", server.Password("alice"), decision: "deny");
        Assert.Contains("You declined", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("access_denied", await ErrorAsync(await PollAsync(device.DeviceCode)));
    }

    [Fact]
    public void DeviceVerification_GuessingUserCodes_IsRateLimitedPerAddress()
    {
        // The service on its own clock (the shared host's address is every test's address).
        var clock = new Ema.Testing.FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var devices = new Ema.Server.IdentityProvider.DeviceAuthorizationService(clock);
        var (_, live) = devices.Start("agent", "openid")!.Value;
        for (var i = 0; i < Ema.Server.IdentityProvider.DeviceAuthorizationService.MaxFailedLookupsPerMinute; i++)
        {
            Assert.Equal((null, false), devices.FindByUserCode("BBBB-BBB" + "BCDFGHJKLMN"[i], "10.0.0.7"));
        }

        Assert.True(devices.FindByUserCode(live.UserCode, "10.0.0.7").Limited); // even the right code, this minute
        Assert.Equal(live, devices.FindByUserCode(live.UserCode, "10.0.0.8").Authorization); // other addresses unaffected
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(live, devices.FindByUserCode(live.UserCode.ToLowerInvariant().Replace("-", string.Empty, StringComparison.Ordinal), "10.0.0.7").Authorization);
    }

    [Fact]
    public void DeviceApproval_SucceedsEvenIfTheDevicePolledMeanwhile_AndNeverAfterExpiry()
    {
        var clock = new Ema.Testing.FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var devices = new Ema.Server.IdentityProvider.DeviceAuthorizationService(clock);
        var (code, pending) = devices.Start("agent", "openid")!.Value;
        var session = new Ema.Server.Model.IdpSession { Id = "sid_1", HandleHash = "h", UserId = "usr-alice", AuthTime = clock.GetUtcNow(), ExpiresAt = clock.GetUtcNow().AddHours(1) };
        Assert.Equal(ErrorIds.DeviceAuthorizationPending, devices.Poll(code, "agent").Error); // changes the stored record
        Assert.True(devices.Approve(pending, session));
        Assert.Equal("usr-alice", devices.Poll(code, "agent").Approved!.ApprovedSession!.UserId);

        var (code2, late) = devices.Start("agent", "openid")!.Value;
        clock.Advance(TimeSpan.FromMinutes(11));
        Assert.False(devices.Approve(late, session));
        Assert.Equal(ErrorIds.DeviceCodeExpired, devices.Poll(code2, "agent").Error);
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
    internal static async Task<HttpResponseMessage> ApproveAsync(EmaServerFixture server, string verificationUriComplete, string username, string password, string decision = "allow")
    {
        var browser = TrustedHttp.Client(server.Ca, new CookieContainer());
        var page = await browser.GetStringAsync(verificationUriComplete);
        Assert.Contains("<strong id=\"client\">Ema Agent</strong>", page, StringComparison.Ordinal); // the user sees who asks (RFC 8628 §5.4)
        return await browser.PostAsync(server.Issuer + DevicePaths.Verification, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__af"] = EmaServerFixture.HiddenInput(page, "__af"),
            ["user_code"] = EmaServerFixture.HiddenInput(page, "user_code"),
            ["username"] = username,
            ["password"] = password,
            ["decision"] = decision,
        }));
    }

    private Task<HttpResponseMessage> ApproveAsync(string verificationUriComplete, string username, string password, string decision = "allow") => ApproveAsync(server, verificationUriComplete, username, password, decision);

    private static async Task<string?> ErrorAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
}
