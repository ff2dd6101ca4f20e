using System.Diagnostics;
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
        var sid = Claim(signIn.Tokens.IdToken!, "sid");

        var listed = await RunAsync("admin", "--data", server.DataDirectory, "sessions", "list", "--user", "bob");
        Assert.Equal(0, listed.Code);
        Assert.Contains(sid, listed.Out, StringComparison.Ordinal);

        var revoked = await RunAsync("admin", "--data", server.DataDirectory, "sessions", "revoke", "--id", sid);
        Assert.True(revoked.Code == 0, revoked.Err);
        Assert.DoesNotContain(sid, (await RunAsync("admin", "--data", server.DataDirectory, "sessions", "list", "--user", "bob")).Out, StringComparison.Ordinal);

        var refresh = await server.TokenAsync(new Dictionary<string, string> { ["grant_type"] = GrantTypes.RefreshToken, ["refresh_token"] = signIn.Tokens.RefreshToken! }, basic: (Cli.DemoSeed.AgentClientId, server.Demo.ClientSecret));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refresh.StatusCode);
        Assert.Equal("invalid_grant", JsonDocument.Parse(await refresh.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
        Assert.Equal(1, (await RunAsync("admin", "--data", server.DataDirectory, "sessions", "revoke", "--id", sid)).Code); // already ended
    }

    private static string Claim(string jwt, string name)
    {
        var payload = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        return JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload))).RootElement.GetProperty(name).GetString()!;
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ema.dll"));
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
