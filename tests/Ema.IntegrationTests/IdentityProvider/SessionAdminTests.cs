using System.Text;
using System.Text.Json;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary><c>ema admin sessions list|revoke</c>: an administrator ends a user's session; its refresh tokens stop working.</summary>
[Collection(EmaServerCollection.Name)]
public sealed class SessionAdminTests(EmaServerFixture server)
{
    [Fact]
    public async Task RevokedSession_IsListedBeforeAndIsGoneAfter_AndItsRefreshTokenIsRefused()
    {
        var signIn = await server.SignInAsync("bob");
        var sid = Ema.Client.SignIn.JwtPayload.String(Ema.Client.SignIn.JwtPayload.Read(signIn.Tokens.IdToken!), JwtClaimNames.SessionId)!;

        var listed = await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "sessions", "list", "--user", "bob");
        Assert.Equal(0, listed.Code);
        Assert.Contains(sid, listed.Out, StringComparison.Ordinal);

        var revoked = await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "sessions", "revoke", "--id", sid);
        Assert.True(revoked.Code == 0, revoked.Err);
        Assert.DoesNotContain(sid, (await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "sessions", "list", "--user", "bob")).Out, StringComparison.Ordinal);

        var refresh = await server.TokenAsync(new Dictionary<string, string> { ["grant_type"] = GrantTypes.RefreshToken, ["refresh_token"] = signIn.Tokens.RefreshToken! }, basic: (Cli.DemoSeed.AgentClientId, server.Demo.ClientSecret));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refresh.StatusCode);
        Assert.Equal("invalid_grant", JsonDocument.Parse(await refresh.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
        Assert.Equal(1, (await EmaCli.RunAsync("admin", "--data", server.DataDirectory, "sessions", "revoke", "--id", sid)).Code); // already ended
    }

}
