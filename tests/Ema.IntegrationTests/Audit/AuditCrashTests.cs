using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Ema.Cli;
using Ema.Client;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Storage;
using Ema.Storage.Stores;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ema.IntegrationTests.Audit;

/// <summary>
/// Durability before the answer: a real <c>ema serve</c> process is killed (SIGKILL) in the middle of a burst of 1,000
/// token exchanges; every exchange it acknowledged must be in the audit log afterwards, and the hash chain intact.
/// </summary>
public sealed class AuditCrashTests
{
    [Fact]
    public async Task ProcessKilledDuringABurst_EveryAcknowledgedDecisionIsLogged_AndTheChainIsIntact()
    {
        using var ema = await EmaProcess.StartAsync();
        var (server, data, baseUrl, ca, demo) = (ema.Process, ema.Data, ema.BaseUrl, ema.Ca, ema.Demo);
        {
            using var http = TrustedHttp.Client(ca);
            using var client = await ema.SignedInClientAsync("alice", useCatalog: false);
            var idToken = client.Session!.IdToken;

            var form = $"grant_type={Uri.EscapeDataString(GrantTypes.TokenExchange)}&requested_token_type={Uri.EscapeDataString(TokenTypes.IdJag)}&subject_token={idToken}&subject_token_type={Uri.EscapeDataString(TokenTypes.IdToken)}&audience={Uri.EscapeDataString(baseUrl + "/as")}&resource={Uri.EscapeDataString(baseUrl + "/mcp/tickets")}&scope=tickets.read";
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{demo.ClientId}:{demo.ClientSecret}"));
            var acknowledged = new ConcurrentBag<string>();
            long issued = 0;
            var killed = 0;
            var workers = Enumerable.Range(0, 32).Select(async _ =>
            {
                while (Interlocked.Increment(ref issued) <= 1_000)
                {
                    try
                    {
                        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/idp/token") { Content = new StringContent(form, Encoding.ASCII, MediaTypes.FormUrlEncoded) };
                        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
                        using var response = await http.SendAsync(request);
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            var jag = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
                            acknowledged.Add(Ema.Client.SignIn.JwtPayload.String(Ema.Client.SignIn.JwtPayload.Read(jag), JwtClaimNames.JwtId)!);
                        }
                    }
                    catch (HttpRequestException)
                    {
                        // the server is gone: everything from here on is unacknowledged
                    }

                    if (acknowledged.Count >= 300 && Interlocked.Exchange(ref killed, 1) == 0)
                    {
                        server.Kill(entireProcessTree: true); // SIGKILL: no shutdown, no flush
                    }
                }
            }).ToList();
            await Task.WhenAll(workers);
            await server.WaitForExitAsync();
            Assert.True(killed == 1, "the burst ended before the kill");
            Assert.True(acknowledged.Count >= 300);

            // Every acknowledged decision is on disk; the chain verifies.
            SqliteConnection.ClearAllPools();
            var logged = new HashSet<string>(StringComparer.Ordinal);
            var db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = Path.Combine(data, "ema.db") }, TimeProvider.System, NullLogger<SqliteDatabase>.Instance);
            await using (var log = new SqliteAuditLog(db, new SqliteWriteQueue(db, NullLogger<SqliteWriteQueue>.Instance)))
            {
                foreach (var (_, _, e) in await log.ReadAfterAsync(0, int.MaxValue, default))
                {
                    if (e is { Type: "token_exchange", Outcome: "granted", TokenId: { } jti })
                    {
                        logged.Add(jti);
                    }
                }
            }

            SqliteConnection.ClearAllPools();
            var missing = acknowledged.Where(jti => !logged.Contains(jti)).ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} of {acknowledged.Count} acknowledged exchanges are not in the audit log");
            var verify = await EmaCli.RunAsync("audit", "verify", "--data", data);
            var output = verify.Out + verify.Err;
            Assert.True(verify.Code == 0, output);
            Assert.Contains("Audit trail intact", output, StringComparison.Ordinal);
            Assert.Matches("sealed from record #1[^0-9]", output); // the killed server's blocks too
        }
    }
}
