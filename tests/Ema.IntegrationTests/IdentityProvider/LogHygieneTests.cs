using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>Security: no token, secret or password appears in any log output (EMA-S+ §7.4.2; the brief's standards).</summary>
[Collection(EmaServerCollection.Name)]
public sealed class LogHygieneTests(EmaServerFixture server)
{
    [Fact]
    public async Task Logs_AfterSignInsExchangesAndFailures_ContainNoTokenSecretOrPassword()
    {
        // Exercise the paths that handle secrets: sign-in (right and wrong password), code, refresh, exchange, failures.
        var alice = await server.SignInAsync("alice");
        var exchange = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, server.BaseUrl + "/mcp/tickets"), (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        var jag = JsonSerializer.Deserialize(await exchange.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!;
        server.Remember(jag.AccessToken);

        // At the authorization server too (spec §2(c)19: never log a full ID-JAG): a redemption, its replay, a tampered one.
        var redeemed = await RedeemAsync(jag.AccessToken);
        Assert.True(redeemed.IsSuccessStatusCode, await redeemed.Content.ReadAsStringAsync());
        server.Remember(JsonSerializer.Deserialize(await redeemed.Content.ReadAsStringAsync(), EmaJsonContext.Default.AccessTokenResponse)!.AccessToken);
        Assert.False((await RedeemAsync(jag.AccessToken)).IsSuccessStatusCode);
        var tampered = jag.AccessToken[..^4] + (jag.AccessToken[^4] == 'A' ? "BBBB" : "AAAA");
        server.Remember(tampered);
        Assert.False((await RedeemAsync(tampered)).IsSuccessStatusCode);
        const string WrongSecret = "wrong-secret-9f8e7d6c5b4a";
        server.Remember(WrongSecret);
        await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, server.BaseUrl + "/mcp/tickets"), (DemoSeed.AgentClientId, WrongSecret));
        await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, "https://unknown.example/mcp"), (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        await server.TokenAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = alice.Tokens.RefreshToken! }, (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        await alice.Browser.GetAsync($"{server.Issuer}/endsession?id_token_hint={alice.Tokens.IdToken}&post_logout_redirect_uri={Uri.EscapeDataString("http://127.0.0.1/signed-out")}");

        var lines = server.Logs.Lines.ToArray();
        Assert.True(lines.Length > 20, $"expected the host to log (got {lines.Length} lines)");
        var secrets = server.Secrets.Where(s => s.Length >= 12).Distinct().ToArray();
        Assert.True(secrets.Length >= 8, "the scan must cover real secrets");
        foreach (var secret in secrets)
        {
            // A JWT is checked whole and by its signature segment (a truncated token still leaks its signature).
            var needles = secret.Count(c => c == '.') == 2 ? new[] { secret, secret[(secret.LastIndexOf('.') + 1)..] } : [secret];
            foreach (var needle in needles)
            {
                var leak = lines.FirstOrDefault(l => l.Contains(needle, StringComparison.Ordinal));
                Assert.True(leak is null, $"a secret appears in the logs: {leak?[..Math.Min(leak.Length, 200)]}");
            }
        }
    }

    private Task<HttpResponseMessage> RedeemAsync(string assertion)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/as/token") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = GrantTypes.JwtBearer, ["assertion"] = assertion }) };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{DemoSeed.AgentClientId}:{server.Demo.AuthorizationServerClientSecret}")));
        return server.Http.SendAsync(request);
    }
}
