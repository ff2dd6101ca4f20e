using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

using Microsoft.Extensions.DependencyInjection;

namespace Ema.Benchmarks;

/// <summary>
/// Token-exchange throughput of the real IdP over https on loopback, normalised by the server's CPU time, beside the
/// crypto limit (one ES256 verify + one ES256 sign per request) measured in the same run; then latency at about half
/// of saturation. The server is a separate <c>ema serve</c> process; every loop is bounded in count and time, and only
/// 127.0.0.1 is targeted.
/// </summary>
public static class ExchangeLoad
{
    public static Task<int> RunAsync(string[] args) => MeasureAsync(args);

    /// <summary>
    /// <c>exchange-audit</c>: the same exchange load against the real host (durable, hash-chained audit) and against the
    /// same host with the audit sink replaced by one that discards, alternating A B A B in one run.
    /// </summary>
    /// <summary>
    /// <c>exchange-host</c>: <c>ema serve</c>'s host with the audit sink chosen by <c>EMA_BENCH_AUDIT</c>: <c>durable</c>
    /// (the shipped one), <c>queue</c> (through the group-commit queue, nothing written) or <c>discard</c>.
    /// </summary>
    public static async Task<int> AuditVariantHostAsync(string[] args)
    {
        var variant = Environment.GetEnvironmentVariable("EMA_BENCH_AUDIT") ?? "durable";
        var app = Ema.Cli.EmaHost.Build(args, builder =>
        {
            if (variant == "queue")
            {
                builder.Services.AddSingleton<Ema.Server.Audit.IAuditSink>(sp => new QueueOnlyAuditSink(sp.GetRequiredService<Ema.Storage.SqliteWriteQueue>()));
            }
            else if (variant == "yield")
            {
                builder.Services.AddSingleton<Ema.Server.Audit.IAuditSink, YieldingAuditSink>();
            }
            else if (variant == "discard")
            {
                builder.Services.AddSingleton<Ema.Server.Audit.IAuditSink, DiscardingAuditSink>();
            }
        });
        await app.RunAsync();
        return 0;
    }

    private sealed class QueueOnlyAuditSink(Ema.Storage.SqliteWriteQueue queue) : Ema.Server.Audit.IAuditSink
    {
        public Task WriteAsync(Ema.Server.Audit.AuditEvent auditEvent, CancellationToken cancellationToken) => queue.WriteAsync((_, _) => Task.FromResult(true), cancellationToken);
    }

    // Nothing written and no writer: the request is suspended and resumed on the thread pool once, as a commit would.
    private sealed class YieldingAuditSink : Ema.Server.Audit.IAuditSink
    {
        public async Task WriteAsync(Ema.Server.Audit.AuditEvent auditEvent, CancellationToken cancellationToken) => await Task.Yield();
    }

    private sealed class DiscardingAuditSink : Ema.Server.Audit.IAuditSink
    {
        public Task WriteAsync(Ema.Server.Audit.AuditEvent auditEvent, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static async Task<int> MeasureAsync(string[] args)
    {
        var seconds = ArgInt(args, "--seconds", 15);
        var concurrency = ArgInt(args, "--concurrency", 64);
        var subjectCache = ArgInt(args, "--subject-cache", 10_000);
        var data = Path.Combine(Path.GetTempPath(), "ema-bench-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)));
        var port = FreePort();
        var baseUrl = $"https://127.0.0.1:{port}";
        var ema = Path.Combine(AppContext.BaseDirectory, "ema.dll");
        var host = $"\"{ema}\" serve --data \"{data}\" --seed demo --urls {baseUrl}";
        var start = new ProcessStartInfo("dotnet", $"{host} --Logging:LogLevel:Default=Warning --Ema:IdentityProvider:VerifiedSubjectTokenCacheSize={subjectCache}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        // --server-env NAME=VALUE (repeatable): runtime settings for the server process, for experiments.
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--server-env" && args[i + 1].Split('=', 2) is [var name, var value])
            {
                start.Environment[name] = value;
            }
        }

        using var server = Process.Start(start)!;
        try
        {
            var ca = await WaitForCaAsync(Path.Combine(data, "tls", "ca.crt"), server);
            using var http = Client(ca, new CookieContainer(), concurrency);
            await WaitUntilUpAsync(http, baseUrl);
            var demo = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(data, "demo-credentials.json"))).RootElement;
            var secret = demo.GetProperty("clientSecret").GetString()!;
            var password = demo.GetProperty("users").EnumerateArray().First(u => u.GetProperty("username").GetString() == "alice").GetProperty("password").GetString()!;
            var idToken = await SignInAsync(ca, baseUrl, secret, password);
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"ema-agent:{secret}"));
            var form = $"grant_type={Uri.EscapeDataString("urn:ietf:params:oauth:grant-type:token-exchange")}&requested_token_type={Uri.EscapeDataString("urn:ietf:params:oauth:token-type:id-jag")}&subject_token={idToken}&subject_token_type={Uri.EscapeDataString("urn:ietf:params:oauth:token-type:id_token")}&audience={Uri.EscapeDataString(baseUrl + "/as")}&resource={Uri.EscapeDataString(baseUrl + "/mcp/tickets")}&scope=tickets.read";

            async Task<bool> ExchangeAsync()
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/idp/token") { Content = new StringContent(form, Encoding.ASCII, "application/x-www-form-urlencoded") };
                request.Headers.Authorization = new("Basic", basic);
                using var response = await http.SendAsync(request);
                return response.StatusCode == HttpStatusCode.OK;
            }

            if (args.Contains("--redeem"))
            {
                return await RedeemAsync(http, baseUrl, demo, idToken, form, basic, server, concurrency, seconds);
            }

            // Warm up (JIT, connection pool, SQLite pages), bounded.
            await RunClosedLoopAsync(ExchangeAsync, concurrency, TimeSpan.FromSeconds(4), 20_000);

            var crypto = MeasureCryptoPerCpuSecond(TimeSpan.FromSeconds(3));
            var cpuBefore = ProcessCpu(server.Id);
            var switchesBefore = ContextSwitches(server.Id).Switches;
            var sw = Stopwatch.StartNew();
            var (ok, failed, _) = await RunClosedLoopAsync(ExchangeAsync, concurrency, TimeSpan.FromSeconds(seconds), 2_000_000);
            var wall = sw.Elapsed.TotalSeconds;
            var serverCpu = ProcessCpu(server.Id) - cpuBefore;
            var (switchesAfter, threads) = ContextSwitches(server.Id);
            var perCpuSecond = ok / serverCpu;
            var saturation = ok / wall;

            // Latency at about half of saturation: a paced open loop.
            var rate = Math.Max(1, saturation / 2);
            var latencies = await RunPacedAsync(ExchangeAsync, rate, TimeSpan.FromSeconds(Math.Min(seconds, 10)), 200_000);
            latencies.Sort();

            Console.WriteLine($"token exchange over https (server process {server.Id}, {concurrency} connections, {seconds} s, verified-subject-token cache {(subjectCache > 0 ? "on" : "off")}):");
            Console.WriteLine($"  exchanges ok/failed:               {ok} / {failed}");
            Console.WriteLine($"  wall throughput:                   {saturation:F0} req/s");
            Console.WriteLine($"  server CPU:                        {serverCpu:F2} s  ({1e6 * serverCpu / ok:F0} µs/request)");
            Console.WriteLine($"  exchanges per server CPU-second:   {perCpuSecond:F0}");
            Console.WriteLine($"  server context switches/request:   {(double)(switchesAfter - switchesBefore) / ok:F2} ({threads} threads)");
            Console.WriteLine($"  crypto limit (verify+sign) per CPU-second, same run: {crypto:F0}");
            Console.WriteLine($"  RATIO exchanges/CPU-s ÷ crypto limit: {perCpuSecond / crypto:F2}");
            Console.WriteLine($"  latency at {rate:F0} req/s (≈ half saturation), n={latencies.Count}: p50 {Percentile(latencies, 0.50):F2} ms, p99 {Percentile(latencies, 0.99):F2} ms");
            if (args.Contains("--policy"))
            {
                // Same run: the policy engine at enterprise size, in this process (the server is idle now), CPU time per decision.
                var policy = await PolicyEvaluation.MeasureAsync(TimeSpan.FromSeconds(Math.Min(seconds, 10)), 2_000_000);
                var exchangeMicroseconds = 1e6 * serverCpu / ok;
                Console.WriteLine(policy);
                Console.WriteLine($"  RATIO policy evaluation ÷ token exchange (CPU per request, same run): {policy.MicrosecondsPerDecision / exchangeMicroseconds:P1}");
            }

            return failed == 0 ? 0 : 1;
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            try
            {
                Directory.Delete(data, true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// jwt-bearer redemptions at the authorization server: ID-JAGs are single-use, so a bounded stock is minted through
    /// the IdP first (not measured), then redeemed while the server's CPU is measured.
    /// </summary>
    private static async Task<int> RedeemAsync(HttpClient http, string baseUrl, JsonElement demo, string idToken, string exchangeForm, string idpBasic, Process server, int concurrency, int seconds)
    {
        var asBasic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"ema-agent:{demo.GetProperty("authorizationServerClientSecret").GetString()}"));
        var stock = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var target = Math.Min(80_000, 8_000 * seconds);
        await RunClosedLoopAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/idp/token") { Content = new StringContent(exchangeForm, Encoding.ASCII, "application/x-www-form-urlencoded") };
            request.Headers.Authorization = new("Basic", idpBasic);
            using var response = await http.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            stock.Enqueue(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!);
            return true;
        }, concurrency, TimeSpan.FromSeconds(60), target);

        async Task<bool> Redeem()
        {
            if (!stock.TryDequeue(out var idJag))
            {
                return false;
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/as/token") { Content = new StringContent("grant_type=" + Uri.EscapeDataString("urn:ietf:params:oauth:grant-type:jwt-bearer") + "&assertion=" + idJag, Encoding.ASCII, "application/x-www-form-urlencoded") };
            request.Headers.Authorization = new("Basic", asBasic);
            using var response = await http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK;
        }

        // Warm-up (JIT tiering of the redemption path, SQLite pages) on a fifth of the stock, then the measured window on
        // the rest: JIT work in the window would be charged to the server's CPU per redemption.
        await RunClosedLoopAsync(Redeem, concurrency, TimeSpan.FromSeconds(5), stock.Count / 5);
        var crypto = MeasureCryptoPerCpuSecond(TimeSpan.FromSeconds(3));
        var available = stock.Count;
        Console.WriteLine($"measuring {available} redemptions against server process {server.Id}");
        var cpuBefore = ProcessCpu(server.Id);
        var sw = Stopwatch.StartNew();
        var (ok, failed, _) = await RunClosedLoopAsync(Redeem, concurrency, TimeSpan.FromSeconds(seconds), available);
        var wall = sw.Elapsed.TotalSeconds;
        var serverCpu = ProcessCpu(server.Id) - cpuBefore;
        Console.WriteLine($"jwt-bearer redemption over https (server process {server.Id}, {concurrency} connections, persistent replay cache and durable audit):");
        Console.WriteLine($"  ID-JAGs minted beforehand:         {available}");
        Console.WriteLine($"  redemptions ok/failed:             {ok} / {failed}");
        Console.WriteLine($"  wall throughput:                   {ok / wall:F0} req/s");
        Console.WriteLine($"  server CPU:                        {serverCpu:F2} s  ({1e6 * serverCpu / Math.Max(1, ok):F0} µs/request)");
        Console.WriteLine($"  redemptions per server CPU-second: {ok / serverCpu:F0}");
        Console.WriteLine($"  crypto limit (verify+sign) per CPU-second, same run: {crypto:F0}");
        Console.WriteLine($"  RATIO redemptions/CPU-s ÷ crypto limit: {ok / serverCpu / crypto:F2}");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>One ES256 verify of a 600-byte ID token plus one ES256 sign of a 600-byte ID-JAG, per CPU-second of this thread.</summary>
    private static double MeasureCryptoPerCpuSecond(TimeSpan duration)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var input = RandomNumberGenerator.GetBytes(600);
        var signature = key.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var before = ThreadCpuSeconds();
        var sw = Stopwatch.StartNew();
        long count = 0;
        while (sw.Elapsed < duration)
        {
            key.VerifyData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            key.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            count++;
        }

        return count / (ThreadCpuSeconds() - before);
    }

    internal static async Task<(long Ok, long Failed, List<double> Latencies)> RunClosedLoopAsync(Func<Task<bool>> operation, int concurrency, TimeSpan duration, long maxCount)
    {
        long ok = 0, failed = 0, issued = 0;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (sw.Elapsed < duration && Interlocked.Increment(ref issued) <= maxCount)
            {
                if (await operation())
                {
                    Interlocked.Increment(ref ok);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        return (ok, failed, []);
    }

    private static async Task<List<double>> RunPacedAsync(Func<Task<bool>> operation, double rate, TimeSpan duration, int maxCount)
    {
        var latencies = new List<double>();
        var tasks = new List<Task>();
        var interval = TimeSpan.FromSeconds(1 / rate);
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < maxCount && sw.Elapsed < duration; i++)
        {
            var due = interval * i;
            var wait = due - sw.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            tasks.Add(Task.Run(async () =>
            {
                var start = Stopwatch.GetTimestamp();
                await operation();
                var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                lock (latencies)
                {
                    latencies.Add(ms);
                }
            }));
        }

        await Task.WhenAll(tasks);
        return latencies;
    }

    internal static async Task<string> SignInAsync(X509Certificate2 ca, string baseUrl, string secret, string password)
    {
        using var browser = Client(ca, new CookieContainer(), 1);
        var verifier = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var challenge = Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        const string Redirect = "http://127.0.0.1:5999/callback";
        var authorize = await browser.GetAsync($"{baseUrl}/idp/authorize?response_type=code&client_id=ema-agent&redirect_uri={Uri.EscapeDataString(Redirect)}&scope=openid&code_challenge={challenge}&code_challenge_method=S256");
        var page = await browser.GetStringAsync(baseUrl + authorize.Headers.Location);
        string Hidden(string name) => WebUtility.HtmlDecode(Regex.Match(page, $"name=\"{name}\" value=\"([^\"]*)\"").Groups[1].Value);
        var posted = await browser.PostAsync(baseUrl + "/idp/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["request"] = Hidden("request"), ["__af"] = Hidden("__af"), ["username"] = "alice", ["password"] = password }));
        var code = System.Web.HttpUtility.ParseQueryString(posted.Headers.Location!.Query)["code"]!;
        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/idp/token") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = Redirect, ["code_verifier"] = verifier }) };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"ema-agent:{secret}")));
        var tokens = JsonDocument.Parse(await (await browser.SendAsync(request)).Content.ReadAsStringAsync()).RootElement;
        return tokens.GetProperty("id_token").GetString()!;
    }

    internal static HttpClient Client(X509Certificate2 ca, CookieContainer cookies, int connections) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        CookieContainer = cookies,
        MaxConnectionsPerServer = connections,
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            },
        },
    });

    internal static async Task<X509Certificate2> WaitForCaAsync(string path, Process server)
    {
        for (var i = 0; i < 600 && !File.Exists(path); i++)
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException("ema serve exited: " + await server.StandardError.ReadToEndAsync());
            }

            await Task.Delay(100);
        }

        await Task.Delay(200);
        return X509CertificateLoader.LoadCertificateFromFile(path);
    }

    internal static async Task WaitUntilUpAsync(HttpClient http, string baseUrl)
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                if ((await http.GetAsync(baseUrl + "/idp/.well-known/openid-configuration")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException("server did not come up");
    }

    /// <summary>Context switches of all of a process's threads so far (voluntary + involuntary, /proc/PID/task/*/status); and its thread count.</summary>
    internal static (long Switches, int Threads) ContextSwitches(int pid)
    {
        var threads = CpuByThread(pid);
        return (threads.Values.Sum(t => t.Voluntary + t.Involuntary), threads.Count);
    }

    /// <summary>
    /// Each live thread of a process so far, by thread id: its name (cut at 15 characters by the kernel), CPU seconds
    /// (utime + stime), of which in the kernel (stime), and voluntary and involuntary context switches.
    /// </summary>
    internal static Dictionary<int, ThreadStat> CpuByThread(int pid)
    {
        var threads = new Dictionary<int, ThreadStat>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var kernel = long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture) / 100.0;
                var cpu = (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) / 100.0) + kernel;
                long voluntary = 0, involuntary = 0;
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        voluntary = long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    }
                    else if (line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        involuntary = long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    }
                }

                threads[int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture)] = new ThreadStat(name, cpu, kernel, voluntary, involuntary);
            }
            catch (IOException)
            {
                // the thread ended meanwhile
            }
        }

        return threads;
    }

    /// <summary>Resident set of a process in MB (VmRSS in /proc/PID/status).</summary>
    internal static long ResidentMegabytes(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Select(l => long.Parse(l["VmRSS:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), System.Globalization.CultureInfo.InvariantCulture) / 1024).FirstOrDefault();

    internal readonly record struct ThreadStat(string Name, double Cpu, double Kernel, long Voluntary, long Involuntary);

    /// <summary>utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15, clock ticks of 1/100 s).</summary>
    internal static double ProcessCpu(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
    }

    private static double ThreadCpuSeconds()
    {
        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

    internal static int ArgInt(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    }

    internal static string? ArgString(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    internal static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
