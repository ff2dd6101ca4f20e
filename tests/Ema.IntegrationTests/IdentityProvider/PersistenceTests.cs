using System.Security.Cryptography;
using System.Text.Json;
using Dapper;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>Decision 18: signing keys live in the database, encrypted with Data Protection, and survive restarts.</summary>
public sealed class PersistenceTests : IAsyncLifetime
{
    private readonly EmaServerFixture _first = new();

    public Task InitializeAsync() => _first.InitializeAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task SigningKeys_AreEncryptedAtRestAndReusedAfterRestart()
    {
        var before = JsonSerializer.Deserialize(await _first.Http.GetStringAsync(_first.Issuer + "/jwks"), EmaJsonContext.Default.JsonWebKeySetDocument)!;
        var alice = await _first.SignInAsync("alice");
        var data = _first.DataDirectory;
        await _first.App.StopAsync();
        await _first.App.DisposeAsync();
        SqliteConnection.ClearAllPools();

        // At rest: only Data Protection ciphertext, which is not a PKCS#8 key.
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(data, "ema.db")}"))
        {
            var stored = (await connection.QueryAsync<byte[]>("SELECT protected_key FROM signing_keys")).ToList();
            Assert.Equal(4, stored.Count); // the IdP and the authorization server: current and next key each
            foreach (var blob in stored)
            {
                using var ec = ECDsa.Create();
                Assert.ThrowsAny<CryptographicException>(() => ec.ImportPkcs8PrivateKey(blob, out _));
            }
        }

        // Restart on the same data folder: same keys, and the old ID token still validates at the IdP.
        var second = new RestartedFixture(data);
        await second.InitializeAsync();
        try
        {
            var after = JsonSerializer.Deserialize(await second.Http.GetStringAsync(second.Issuer + "/jwks"), EmaJsonContext.Default.JsonWebKeySetDocument)!;
            Assert.Equal(before.Keys.Select(k => k.KeyId).Order(), after.Keys.Select(k => k.KeyId).Order());
            var request = new HttpRequestMessage(HttpMethod.Get, second.Issuer + "/userinfo");
            request.Headers.Authorization = new("Bearer", alice.Tokens.AccessToken);
            var response = await second.Http.SendAsync(request);

            // The issuer includes the port, which changed; the token is refused for its issuer, not for its key.
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("issued by this", response.Headers.WwwAuthenticate.Single().ToString(), StringComparison.Ordinal);
        }
        finally
        {
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task Replay_AcrossAuthorizationServerRestart_IsStillRefused()
    {
        var alice = await _first.SignInAsync("alice");
        var exchange = await _first.TokenAsync(_first.ExchangeForm(alice.Tokens.IdToken!, _first.BaseUrl + "/mcp/tickets", _first.BaseUrl + "/as"), (Ema.Cli.DemoSeed.AgentClientId, _first.Demo.ClientSecret));
        var idJag = JsonSerializer.Deserialize(await exchange.Content.ReadAsStringAsync(), EmaJsonContext.Default.TokenExchangeResponse)!.AccessToken;
        Assert.Equal(System.Net.HttpStatusCode.OK, (await RedeemAsync(_first, idJag)).StatusCode);
        var port = new Uri(_first.BaseUrl).Port;
        await _first.App.StopAsync();
        await _first.App.DisposeAsync();
        SqliteConnection.ClearAllPools();

        // decision 2: the single-use record is in the database, so a restart forgets nothing.
        var second = new RestartedFixture(_first.DataDirectory, port);
        await second.InitializeAsync();
        try
        {
            var replay = await RedeemAsync(second, idJag);
            var error = JsonSerializer.Deserialize(await replay.Content.ReadAsStringAsync(), EmaJsonContext.Default.OAuthErrorResponse)!;
            Assert.Equal(ErrorIds.IdJagReplayed.Id, error.EmaErrorId);
        }
        finally
        {
            await second.DisposeAsync();
        }
    }

    private static Task<HttpResponseMessage> RedeemAsync(EmaServerFixture server, string assertion)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/as/token") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = GrantTypes.JwtBearer, ["assertion"] = assertion }) };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Ema.Cli.DemoSeed.AgentClientId}:{server.Demo.AuthorizationServerClientSecret}")));
        return server.Http.SendAsync(request);
    }

    private sealed class RestartedFixture(string dataDirectory, int? port = null) : EmaServerFixture(null, dataDirectory, port);
}
