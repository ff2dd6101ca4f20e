using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Ema.Protocol;
using Ema.Samples;
using Ema.Server.AspNetCore.Mcp;
using Ema.Server.AspNetCore.ProtectedResource;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ema.Benchmarks;

/// <summary>
/// MCP <c>tools/call</c> throughput with an Ema access token ÷ the same call unauthenticated, per CPU-second of a separate
/// server process that hosts the ticket tracker twice over https on loopback: at <c>/mcp/auth</c> behind
/// <c>AddEmaProtectedResource</c> (validated-token cache on, <c>tickets.read</c> required) and at <c>/mcp/open</c> with
/// no authentication. Phases alternate so neighbours' noise falls on both; every loop is bounded in count and time.
/// </summary>
public static class McpLoad
{
    private const string Issuer = "https://127.0.0.1/as";

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = ExchangeLoad.ArgInt(args, "--seconds", 3);
        var rounds = ExchangeLoad.ArgInt(args, "--rounds", 3);
        var concurrency = ExchangeLoad.ArgInt(args, "--concurrency", 32);
        var cacheSize = ExchangeLoad.ArgInt(args, "--token-cache", 10_000);
        var work = Directory.CreateTempSubdirectory("ema-mcp-bench-");
        var port = ExchangeLoad.FreePort();
        var resource = $"https://127.0.0.1:{port}/mcp/auth";

        // The authorization server's key: the benchmark mints the access tokens; the server verifies them as usual.
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions(), TimeProvider.System);
        var jwksPath = Path.Combine(work.FullName, "jwks.json");
        await File.WriteAllTextAsync(jwksPath, JsonSerializer.Serialize(ring.Jwks, EmaJsonContext.Default.JsonWebKeySetDocument));
        using var tlsKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var certificateRequest = new CertificateRequest("CN=127.0.0.1", tlsKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        certificateRequest.CertificateExtensions.Add(san.Build());
        using var certificate = certificateRequest.CreateSelfSigned(TimeProvider.System.GetUtcNow().AddMinutes(-5), TimeProvider.System.GetUtcNow().AddDays(1));
        var pfxPath = Path.Combine(work.FullName, "server.pfx");
        await File.WriteAllBytesAsync(pfxPath, certificate.Export(X509ContentType.Pfx));

        var self = Path.Combine(AppContext.BaseDirectory, "Ema.Benchmarks.dll");
        var start = new ProcessStartInfo("dotnet", $"\"{self}\" mcp-host {port} \"{jwksPath}\" \"{pfxPath}\" {cacheSize}") { RedirectStandardOutput = true, RedirectStandardError = true };
        using var server = Process.Start(start)!;
        try
        {
            var pinned = certificate.GetCertHashString(HashAlgorithmName.SHA256);
            using var http = new HttpClient(new SocketsHttpHandler
            {
                MaxConnectionsPerServer = concurrency,
                SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => c?.GetCertHashString(HashAlgorithmName.SHA256) == pinned },
            });
            await WaitUntilUpAsync(http, $"https://127.0.0.1:{port}/up", server);

            var token = new AccessTokenMinter(ring, TimeProvider.System).Mint(new AccessTokenDescriptor
            {
                Issuer = Issuer, Subject = "acct_bench", Audience = resource, ClientId = "ema-agent", Scope = TicketTracker.ReadScope,
                Lifetime = TimeSpan.FromHours(1),
            }).Token;

            var auth = await Sessions(http, resource, token, concurrency);
            var open = await Sessions(http, $"https://127.0.0.1:{port}/mcp/open", null, concurrency);
            if (!await CallAsync(http, auth[0]) || !await CallAsync(http, open[0]))
            {
                Console.Error.WriteLine("tools/call failed: " + await server.StandardError.ReadToEndAsync());
                return 1;
            }

            // Warm-up (JIT tiering, connection pools), bounded.
            await Loop(http, auth, TimeSpan.FromSeconds(3), 200_000);
            await Loop(http, open, TimeSpan.FromSeconds(3), 200_000);

            double authOk = 0, authCpu = 0, authWall = 0, openOk = 0, openCpu = 0, openWall = 0;
            long failed = 0;
            for (var round = 0; round < rounds; round++)
            {
                foreach (var (sessions, isAuth) in new[] { (open, false), (auth, true) })
                {
                    var cpuBefore = ExchangeLoad.ProcessCpu(server.Id);
                    var sw = Stopwatch.StartNew();
                    var (ok, bad) = await Loop(http, sessions, TimeSpan.FromSeconds(seconds), 1_000_000);
                    var wall = sw.Elapsed.TotalSeconds;
                    var cpu = ExchangeLoad.ProcessCpu(server.Id) - cpuBefore;
                    failed += bad;
                    if (isAuth)
                    {
                        (authOk, authCpu, authWall) = (authOk + ok, authCpu + cpu, authWall + wall);
                    }
                    else
                    {
                        (openOk, openCpu, openWall) = (openOk + ok, openCpu + cpu, openWall + wall);
                    }
                }
            }

            Console.WriteLine($"MCP tools/call (ticket tracker get_ticket) over https, server process {server.Id}, {concurrency} sessions, {rounds} × {seconds} s per side, validated-token cache {(cacheSize > 0 ? "on" : "off")}:");
            Console.WriteLine($"  unauthenticated: {openOk:F0} calls, {openOk / openWall:F0} calls/s wall, {1e6 * openCpu / openOk:F0} µs server CPU/call, {openOk / openCpu:F0} calls per server CPU-second");
            Console.WriteLine($"  authenticated:   {authOk:F0} calls, {authOk / authWall:F0} calls/s wall, {1e6 * authCpu / authOk:F0} µs server CPU/call, {authOk / authCpu:F0} calls per server CPU-second");
            Console.WriteLine($"  failed calls: {failed}");
            Console.WriteLine($"  RATIO authenticated ÷ unauthenticated, per server CPU-second: {authOk / authCpu / (openOk / openCpu):F2}; wall throughput: {authOk / authWall / (openOk / openWall):F2}");
            return failed == 0 ? 0 : 1;
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            work.Delete(recursive: true);
        }
    }

    /// <summary>The server side: the ticket tracker behind Ema at /mcp/auth and unauthenticated at /mcp/open.</summary>
    public static async Task<int> HostAsync(string[] args)
    {
        var (port, jwksPath, pfxPath, cacheSize) = (int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture), args[1], args[2], int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.UseHttps(X509CertificateLoader.LoadPkcs12FromFile(pfxPath, null))));
        builder.Services.AddAuthentication().AddEmaProtectedResource(o =>
        {
            o.Resource = $"https://127.0.0.1:{port}/mcp/auth";
            o.AuthorizationServer = Issuer;
            o.ScopesSupported = [TicketTracker.ReadScope, TicketTracker.WriteScope];
            o.Keys = StaticKeySource.FromJwks(File.ReadAllText(jwksPath));
            o.ValidatedTokenCacheSize = cacheSize;
        });
        builder.Services.AddAuthorization();
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/up", () => "up");
        var tickets = new TicketTracker().Definition();
        app.MapMcpStreamableHttp("/mcp/auth", tickets);

        // The same tools with no scope requirement: the unauthenticated baseline.
        app.MapAnonymousMcpStreamableHttp("/mcp/open", tickets with { Tools = [.. tickets.Tools.Select(t => t with { RequiredScope = null })] });
        await app.RunAsync();
        return 0;
    }

    private sealed record McpSession(string Url, string? Token, string Id);

    private static async Task<McpSession[]> Sessions(HttpClient http, string url, string? token, int count)
    {
        var sessions = new McpSession[count];
        for (var i = 0; i < count; i++)
        {
            using var init = Rpc(url, token, null, """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}""");
            using var response = await http.SendAsync(init);
            response.EnsureSuccessStatusCode();
            var id = response.Headers.GetValues(McpTransport.SessionIdHeader).Single();
            using var initialized = Rpc(url, token, id, """{"jsonrpc":"2.0","method":"notifications/initialized"}""");
            (await http.SendAsync(initialized)).EnsureSuccessStatusCode();
            sessions[i] = new McpSession(url, token, id);
        }

        return sessions;
    }

    private static HttpRequestMessage Rpc(string url, string? token, string? sessionId, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(json, Encoding.UTF8, MediaTypes.Json) };
        request.Headers.Accept.ParseAdd(MediaTypes.Json);
        request.Headers.Accept.ParseAdd(MediaTypes.EventStream);
        if (token is not null)
        {
            request.Headers.Authorization = new(HeaderValues.BearerScheme, token);
        }

        if (sessionId is not null)
        {
            request.Headers.Add(McpTransport.SessionIdHeader, sessionId);
            request.Headers.Add(McpTransport.ProtocolVersionHeader, "2025-11-25");
        }

        return request;
    }

    private static async Task<bool> CallAsync(HttpClient http, McpSession session)
    {
        using var request = Rpc(session.Url, session.Token, session.Id, """{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_ticket","arguments":{"id":1}}}""");
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return response.StatusCode == HttpStatusCode.OK && body.Contains("Login page returns 500", StringComparison.Ordinal);
    }

    private static async Task<(long Ok, long Failed)> Loop(HttpClient http, McpSession[] sessions, TimeSpan duration, long maxCount)
    {
        long ok = 0, failed = 0, issued = 0;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(sessions.Select(async session =>
        {
            while (sw.Elapsed < duration && Interlocked.Increment(ref issued) <= maxCount)
            {
                if (await CallAsync(http, session))
                {
                    Interlocked.Increment(ref ok);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        return (ok, failed);
    }

    private static async Task WaitUntilUpAsync(HttpClient http, string url, Process server)
    {
        for (var i = 0; i < 300; i++)
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException("the MCP host exited: " + await server.StandardError.ReadToEndAsync());
            }

            try
            {
                if ((await http.GetAsync(url)).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the MCP host did not start");
    }
}
