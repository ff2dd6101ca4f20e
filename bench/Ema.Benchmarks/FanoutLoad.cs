using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Ema.Cli;
using Ema.Client;
using Ema.Protocol;
using Ema.Samples;
using Ema.Server.AspNetCore.Mcp;
using Ema.Server.AspNetCore.ProtectedResource;
using Ema.Server.AuthorizationServer;
using Ema.Server.Model;
using Ema.Server.Stores;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ema.Benchmarks;

/// <summary>
/// "Signed in" → "connected to all N entitled servers", for N = 10, 100, 500: Ema's client (<c>ConnectAllAsync</c>)
/// beside the MCP TypeScript SDK's <c>CrossAppAccessProvider</c> (one Client per server), both 8 at a time, against the
/// same separate server process hosting N ticket-tracker instances behind Ema's IdP and AS on loopback https. Runs
/// alternate Ema / TypeScript; each N is repeated and the median reported. Every loop is bounded.
/// </summary>
public static class FanoutLoad
{
    private const string Group = "grp-engineering";

    public static async Task<int> RunAsync(string[] args)
    {
        var sizes = (Arg(args, "--sizes") ?? "10,100,500").Split(',').Select(int.Parse).ToArray();
        var repeats = int.Parse(Arg(args, "--repeats") ?? "3", System.Globalization.CultureInfo.InvariantCulture);
        const int Concurrency = 8;
        var max = sizes.Max();
        var data = Directory.CreateTempSubdirectory("ema-fanout-");
        var port = ExchangeLoad.FreePort();
        var baseUrl = $"https://127.0.0.1:{port}";
        var self = Path.Combine(AppContext.BaseDirectory, "Ema.Benchmarks.dll");
        using var server = Process.Start(new ProcessStartInfo("dotnet", $"\"{self}\" fanout-host {port} \"{data.FullName}\" {max}") { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            var ready = await server.StandardOutput.ReadLineAsync();
            if (ready != "ready")
            {
                Console.Error.WriteLine("fanout host failed: " + ready + await server.StandardError.ReadToEndAsync());
                return 1;
            }

            var caFile = Path.Combine(data.FullName, "tls", "ca.crt");
            var demo = JsonSerializer.Deserialize(await File.ReadAllTextAsync(Path.Combine(data.FullName, "demo-credentials.json")), DemoJson.Default.DemoCredentials)!;
            var options = new EmaClientOptions
            {
                IdentityProvider = baseUrl + "/idp",
                IdentityProviderClient = new ClientCredentials(demo.ClientId, demo.ClientSecret),
                UseCatalog = false,
                MaxParallelConnections = Concurrency,
            };
            options.AuthorizationServerClients[baseUrl + "/as"] = new ClientCredentials(demo.ClientId, demo.AuthorizationServerClientSecret);
            var browserHandler = OutboundHttp.Handler(caFile, null);
            browserHandler.AllowAutoRedirect = false;
            browserHandler.UseCookies = true;
            browserHandler.CookieContainer = new CookieContainer();
            using var network = OutboundHttp.Handler(caFile, null);
            using var signIn = new EmaClient(options, network, browser: new PageSignInBrowser(browserHandler, "alice", demo.Users.Single(u => u.Username == "alice").Password));
            var session = await signIn.SignInAsync();

            Console.WriteLine($"fan-out after sign-in, {Concurrency} at a time, server process {server.Id} ({max} MCP servers on {baseUrl}); median of {repeats}:");
            Console.WriteLine("| N | Ema ms (ms/server) | TypeScript SDK ms (ms/server) | TS ÷ Ema |");
            Console.WriteLine("|---:|---:|---:|---:|");
            foreach (var n in sizes)
            {
                var urls = Enumerable.Range(0, n).Select(i => $"{baseUrl}/mcp/bench/{i}").ToList();
                var ema = new List<double>();
                var ts = new List<double>();
                for (var r = 0; r < repeats + 1; r++) // the first round warms both up and is not counted
                {
                    var emaMs = await EmaRunAsync(options, network, session, urls);
                    var tsMs = await TypeScriptRunAsync(baseUrl, demo, session.IdToken, caFile, urls, Concurrency);
                    if (r > 0)
                    {
                        ema.Add(emaMs);
                        ts.Add(tsMs);
                    }
                }

                var (e, t) = (Median(ema), Median(ts));
                Console.WriteLine($"| {n} | {e:F0} ({e / n:F2}) | {t:F0} ({t / n:F2}) | {t / e:F2} |");
            }

            return 0;
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            data.Delete(recursive: true);
        }
    }

    private static async Task<double> EmaRunAsync(EmaClientOptions template, HttpMessageHandler network, Ema.Client.Session.EnterpriseSession session, List<string> urls)
    {
        var options = new EmaClientOptions
        {
            IdentityProvider = template.IdentityProvider,
            IdentityProviderClient = template.IdentityProviderClient,
            UseCatalog = false,
            MaxParallelConnections = template.MaxParallelConnections,
        };
        foreach (var (k, v) in template.AuthorizationServerClients)
        {
            options.AuthorizationServerClients[k] = v;
        }

        for (var i = 0; i < urls.Count; i++)
        {
            options.Servers.Add(new EmaServer("bench" + i, urls[i]));
        }

        using var client = new EmaClient(options, network); // a new client: nothing cached from the last round
        client.UseSession(session);
        var sw = Stopwatch.StartNew();
        var connections = await client.ConnectAllAsync();
        var ms = sw.Elapsed.TotalMilliseconds;
        var failed = connections.Count(c => c.Status != ConnectionStatus.Connected);
        foreach (var c in connections)
        {
            await c.DisposeAsync();
        }

        if (failed > 0)
        {
            throw new InvalidOperationException($"Ema: {failed} of {urls.Count} did not connect: {connections.First(c => c.Status != ConnectionStatus.Connected).Summary}");
        }

        return ms;
    }

    private static async Task<double> TypeScriptRunAsync(string baseUrl, DemoCredentials demo, string idToken, string caFile, List<string> urls, int concurrency)
    {
        var directory = Path.Combine(RepositoryRoot(), "tests", "interop", "typescript");
        var start = new ProcessStartInfo("node", "fanout.mjs") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["NODE_EXTRA_CA_CERTS"] = caFile;
        start.Environment["EMA_INTEROP"] = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["servers"] = urls, ["concurrency"] = concurrency, ["idToken"] = idToken, ["idpUrl"] = baseUrl + "/idp",
            ["idpClientId"] = demo.ClientId, ["idpClientSecret"] = demo.ClientSecret,
            ["asIssuer"] = baseUrl + "/as", ["asClientId"] = demo.ClientId, ["asClientSecret"] = demo.AuthorizationServerClientSecret,
        });
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        var result = JsonDocument.Parse(await stdout).RootElement;
        if (process.ExitCode != 0 || result.GetProperty("failed").GetInt32() > 0)
        {
            throw new InvalidOperationException($"TypeScript: {result.GetProperty("failed")} failed: {result.GetProperty("firstError")} {await stderr}");
        }

        return result.GetProperty("ms").GetDouble();
    }

    /// <summary>The server process: Ema (IdP, AS, samples) plus N ticket trackers at /mcp/bench/{i}, each its own
    /// resource with its own authentication scheme, all entitled to the demo's engineering group.</summary>
    public static async Task<int> HostAsync(string[] args)
    {
        var (port, data, count) = (int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture), args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
        var baseUrl = $"https://127.0.0.1:{port}";
        var app = EmaHost.Build(
            ["--Ema:DataDirectory=" + data, "--Ema:Urls=" + baseUrl, "--Ema:Seed=demo"],
            builder =>
            {
                builder.Logging.ClearProviders();
                var authentication = builder.Services.AddAuthentication();
                for (var i = 0; i < count; i++)
                {
                    var scheme = "bench-" + i;
                    var resource = $"{baseUrl}/mcp/bench/{i}";
                    authentication.AddEmaProtectedResource(scheme, o =>
                    {
                        o.Resource = resource;
                        o.AuthorizationServer = baseUrl + "/as";
                        o.ScopesSupported = [TicketTracker.ReadScope];
                    });
                    builder.Services.AddOptions<EmaProtectedResourceOptions>(scheme).Configure<IServiceProvider>((o, sp) => o.Keys = new DeferredKeys(() => sp.GetRequiredService<AuthorizationServerTokens>().Ring));
                }
            });
        for (var i = 0; i < count; i++)
        {
            app.MapEmaProtectedResourceMetadata("bench-" + i);
            app.MapMcpStreamableHttp($"/mcp/bench/{i}", new TicketTracker().Definition(), "bench-" + i);
        }

        await app.StartAsync();
        var applications = app.Services.GetRequiredService<IApplicationStore>();
        var entitlements = app.Services.GetRequiredService<IEntitlementStore>();
        var authorizationServer = app.Services.GetRequiredService<IAuthorizationServerStore>();
        for (var i = 0; i < count; i++)
        {
            var id = "res-bench-" + i;
            var resource = $"{baseUrl}/mcp/bench/{i}";
            List<ResourceScope> scopes = [new(TicketTracker.ReadScope)];
            await applications.CreateResourceAsync(new ResourceApplication { Id = id, DisplayName = "Bench " + i, Resource = resource, AuthorizationServerIssuer = baseUrl + "/as", Scopes = scopes }, default);
            await entitlements.CreateAsync(new Entitlement("ent-" + id, EntitlementSubjectType.Group, Group, DemoSeed.AgentClientId, id, [TicketTracker.ReadScope]), default);
            await authorizationServer.CreateResourceAsync(new ProtectedResource { Id = id, Name = "Bench " + i, Resource = resource, Scopes = scopes }, default);
        }

        Console.WriteLine("ready");
        await app.WaitForShutdownAsync();
        return 0;
    }

    private sealed class DeferredKeys(Func<IIssuerKeySource> resolve) : IIssuerKeySource
    {
        private readonly Lazy<IIssuerKeySource> _inner = new(resolve);

        public ValueTask<KeyLookupResult> FindKeyAsync(string? keyId, JwsAlgorithm algorithm, CancellationToken cancellationToken) => _inner.Value.FindKeyAsync(keyId, algorithm, cancellationToken);
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Ema.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("run from the repository");
    }
}
