using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ema.Benchmarks;

/// <summary>
/// <c>exchange-audit</c>: token exchanges per server CPU-second with the durable, hash-chained audit ÷ the same host with
/// the audit discarded — measured side by side. Both servers (and, with <c>--with-queue-only</c>, a third whose records
/// pass through the group-commit queue and are not written) run at the same time from the same binary; the load moves
/// from one to the next in short slices, in a rotating order, so the shared machine's drifting speed falls on all of them
/// alike. Each server's CPU is counted only during its own slices.
/// </summary>
/// <remarks>
/// Options: <c>--slices N</c> (default 10), <c>--slice-seconds S</c> (default 3), <c>--concurrency C</c> (64),
/// <c>--warmup-seconds W</c> (12, per server). Bounded:
/// every slice stops at its time or at 2,000,000 requests.
/// </remarks>
public static class AuditComparison
{
    public static async Task<int> RunAsync(string[] args)
    {
        var slices = ExchangeLoad.ArgInt(args, "--slices", 10);
        var sliceSeconds = ExchangeLoad.ArgInt(args, "--slice-seconds", 3);
        var concurrency = ExchangeLoad.ArgInt(args, "--concurrency", 64);
        var warmupSeconds = ExchangeLoad.ArgInt(args, "--warmup-seconds", 12);
        // --compare-env NAME=VALUE adds both servers again with that runtime setting (an empty VALUE removes the product's
        // own), for example DOTNET_GCDynamicAdaptationMode=0 (DATAS off).
        var compareEnv = ExchangeLoad.ArgString(args, "--compare-env");
        string[] variants = ["durable", "discard", .. args.Contains("--with-queue-only") ? ["queue"] : Array.Empty<string>(), .. args.Contains("--with-yield") ? ["yield"] : Array.Empty<string>(),
            .. compareEnv is not null ? ["durable+env", "discard+env"] : Array.Empty<string>()];
        var servers = new List<Server>();
        try
        {
            foreach (var variant in variants)
            {
                servers.Add(await Server.StartAsync(variant, concurrency, compareEnv));
            }

            foreach (var server in servers)
            {
                // Warm-up (JIT — tiered compilation was still busy in the slices after 4 s —, connection pool, SQLite pages), bounded.
                await ExchangeLoad.RunClosedLoopAsync(server.ExchangeAsync, concurrency, TimeSpan.FromSeconds(warmupSeconds), 400_000);
            }

            var perSliceRatios = new List<double>();
            for (var slice = 0; slice < slices; slice++)
            {
                var rates = new Dictionary<string, double>();
                for (var k = 0; k < servers.Count; k++)
                {
                    var server = servers[(slice + k) % servers.Count];
                    rates[server.Variant] = await server.MeasureSliceAsync(concurrency, TimeSpan.FromSeconds(sliceSeconds));
                }

                perSliceRatios.Add(rates["durable"] / rates["discard"]);
                Console.WriteLine($"slice {slice + 1,2}: {string.Join("  ", variants.Select(v => $"{v} {rates[v],7:N0}/CPU-s"))}  durable ÷ discard {perSliceRatios[^1]:F2}");
            }

            Console.WriteLine();
            foreach (var server in servers)
            {
                Console.WriteLine($"{server.Variant,-8} {server.Ok,9:N0} exchanges ({server.Failed} failed), {server.Cpu,6:F2} s server CPU: {server.PerCpuSecond,7:N0} per CPU-second, {1e6 / server.PerCpuSecond,5:F1} µs each, {server.SwitchesPerRequest:F2} context switches each, {server.Threads} threads, group-commit writer {1e6 * server.ThreadCpu.GetValueOrDefault(WriterThread).Cpu / server.Ok:F1} µs each");
            }

            Console.WriteLine();
            Console.WriteLine("per exchange by thread name: CPU µs (of which in the kernel), voluntary / involuntary context switches:");
            foreach (var name in servers.SelectMany(s => s.ThreadCpu.Keys).Distinct().OrderByDescending(n => servers[0].ThreadCpu.GetValueOrDefault(n).Cpu))
            {
                if (servers.Any(s => s.ThreadCpu.GetValueOrDefault(name).Cpu * 1e6 / s.Ok >= 0.05))
                {
                    Console.WriteLine($"  {name,-16} {string.Join("  ", servers.Select(s => s.ThreadCpu.GetValueOrDefault(name) is var t ? $"{s.Variant} {1e6 * t.Cpu / s.Ok,5:F1} µs ({1e6 * t.Kernel / s.Ok,4:F1} kernel) {(double)t.Voluntary / s.Ok,5:F3}/{(double)t.Involuntary / s.Ok,5:F3}" : ""))}");
                }
            }

            Console.WriteLine($"resident memory at the end: {string.Join("  ", servers.Select(s => $"{s.Variant} {ExchangeLoad.ResidentMegabytes(s.ProcessId)} MB"))}");
            Console.WriteLine($"threads started / ended during the slices: {string.Join("  ", servers.Select(s => $"{s.Variant} {s.ThreadsStarted}/{s.ThreadsEnded}"))}");
            var durable = servers.Single(s => s.Variant == "durable");
            var discard = servers.Single(s => s.Variant == "discard");
            if (servers.SingleOrDefault(s => s.Variant == "queue") is { } queue)
            {
                Console.WriteLine($"commit queue only ÷ discard: {queue.PerCpuSecond / discard.PerCpuSecond:F2}");
            }

            Console.WriteLine($"median of the per-slice ratios: {perSliceRatios.Order().ElementAt(perSliceRatios.Count / 2):F2}");
            Console.WriteLine($"RATIO token exchange with durable hash-chained audit ÷ without (all slices): {durable.PerCpuSecond / discard.PerCpuSecond:F2}");
            if (servers.SingleOrDefault(s => s.Variant == "durable+env") is { } durableEnv && servers.SingleOrDefault(s => s.Variant == "discard+env") is { } discardEnv)
            {
                Console.WriteLine($"with {compareEnv}: ratio {durableEnv.PerCpuSecond / discardEnv.PerCpuSecond:F2}; with ÷ without, exchanges per CPU-second: durable {durableEnv.PerCpuSecond / durable.PerCpuSecond:F2}, discard {discardEnv.PerCpuSecond / discard.PerCpuSecond:F2}");
            }

            return servers.Any(s => s.Failed > 0) ? 1 : 0;
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    // The writer thread's name as /proc shows it: thread names are cut at 15 characters.
    private const string WriterThread = "Ema group commi";

    private sealed class Server : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _data;
        private readonly HttpClient _http;
        private readonly string _url;
        private readonly string _form;
        private readonly string _basic;

        private Server(string variant, Process process, string data, HttpClient http, string url, string form, string basic)
        {
            (Variant, _process, _data, _http, _url, _form, _basic) = (variant, process, data, http, url, form, basic);
        }

        public string Variant { get; }

        public int ProcessId => _process.Id;

        public long Ok { get; private set; }

        public long Failed { get; private set; }

        public double Cpu { get; private set; }

        public int Threads { get; private set; }

        public double PerCpuSecond => Ok / Cpu;

        public double SwitchesPerRequest => (double)Switches / Ok;

        private long Switches { get; set; }


        /// <summary>CPU during the slices by thread name (thread pool workers, socket engine, GC, the writer…).</summary>
        public Dictionary<string, (double Cpu, double Kernel, long Voluntary, long Involuntary)> ThreadCpu { get; } = new(StringComparer.Ordinal);

        public int ThreadsStarted { get; private set; }

        public int ThreadsEnded { get; private set; }

        public static async Task<Server> StartAsync(string variant, int concurrency, string? compareEnv)
        {
            var data = Path.Combine(Path.GetTempPath(), "ema-bench-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)));
            var baseUrl = $"https://127.0.0.1:{ExchangeLoad.FreePort()}";
            var host = $"\"{Path.Combine(AppContext.BaseDirectory, "Ema.Benchmarks.dll")}\" exchange-host \"--Ema:DataDirectory={data}\" --Ema:Seed=demo --Ema:Urls={baseUrl}";
            var start = new ProcessStartInfo("dotnet", $"{host} --Logging:LogLevel:Default=Warning") { RedirectStandardOutput = true, RedirectStandardError = true };

            // The host runs from this assembly: give it the runtime settings of ema.runtimeconfig.json.
            start.Environment["DOTNET_gcServer"] = "1";
            start.Environment["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0";
            start.Environment["EMA_BENCH_AUDIT"] = variant.Split('+')[0];
            if (variant.EndsWith("+env", StringComparison.Ordinal) && compareEnv?.Split('=', 2) is [var name, var value])
            {
                if (value.Length == 0)
                {
                    start.Environment.Remove(name);
                }
                else
                {
                    start.Environment[name] = value;
                }
            }
            var process = Process.Start(start)!;
            var ca = await ExchangeLoad.WaitForCaAsync(Path.Combine(data, "tls", "ca.crt"), process);
            var http = ExchangeLoad.Client(ca, new CookieContainer(), concurrency);
            await ExchangeLoad.WaitUntilUpAsync(http, baseUrl);
            var demo = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(data, "demo-credentials.json"))).RootElement;
            var secret = demo.GetProperty("clientSecret").GetString()!;
            var password = demo.GetProperty("users").EnumerateArray().First(u => u.GetProperty("username").GetString() == "alice").GetProperty("password").GetString()!;
            var idToken = await ExchangeLoad.SignInAsync(ca, baseUrl, secret, password);
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"ema-agent:{secret}"));
            var form = $"grant_type={Uri.EscapeDataString("urn:ietf:params:oauth:grant-type:token-exchange")}&requested_token_type={Uri.EscapeDataString("urn:ietf:params:oauth:token-type:id-jag")}&subject_token={idToken}&subject_token_type={Uri.EscapeDataString("urn:ietf:params:oauth:token-type:id_token")}&audience={Uri.EscapeDataString(baseUrl + "/as")}&resource={Uri.EscapeDataString(baseUrl + "/mcp/tickets")}&scope=tickets.read";
            return new Server(variant, process, data, http, baseUrl + "/idp/token", form, basic);
        }

        public async Task<bool> ExchangeAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = new StringContent(_form, Encoding.ASCII, "application/x-www-form-urlencoded") };
            request.Headers.Authorization = new("Basic", _basic);
            using var response = await _http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK;
        }

        /// <summary>Loads this server alone for <paramref name="duration"/>; returns its exchanges per CPU-second in the slice.</summary>
        public async Task<double> MeasureSliceAsync(int concurrency, TimeSpan duration)
        {
            var cpu = ExchangeLoad.ProcessCpu(_process.Id);
            var byThread = ExchangeLoad.CpuByThread(_process.Id);
            var (ok, failed, _) = await ExchangeLoad.RunClosedLoopAsync(ExchangeAsync, concurrency, duration, 2_000_000);
            var used = ExchangeLoad.ProcessCpu(_process.Id) - cpu;
            var threadsAfter = ExchangeLoad.CpuByThread(_process.Id);
            var accounted = 0.0;
            foreach (var (tid, after) in threadsAfter)
            {
                var before = byThread.GetValueOrDefault(tid, after with { Cpu = 0, Kernel = 0, Voluntary = 0, Involuntary = 0 });
                var delta = after.Cpu - before.Cpu;
                var (cpuSoFar, kernelSoFar, voluntary, involuntary) = ThreadCpu.GetValueOrDefault(after.Name);
                ThreadCpu[after.Name] = (cpuSoFar + delta, kernelSoFar + after.Kernel - before.Kernel, voluntary + after.Voluntary - before.Voluntary, involuntary + after.Involuntary - before.Involuntary);
                accounted += delta;
                Switches += after.Voluntary + after.Involuntary - before.Voluntary - before.Involuntary;
            }

            // Threads that ended during the slice: their CPU is in the process's total but in no live thread's.
            var ended = ThreadCpu.GetValueOrDefault("(ended threads)");
            ThreadCpu["(ended threads)"] = ended with { Cpu = ended.Cpu + used - accounted };
            ThreadsStarted += threadsAfter.Keys.Count(t => !byThread.ContainsKey(t));
            ThreadsEnded += byThread.Keys.Count(t => !threadsAfter.ContainsKey(t));

            (Ok, Failed, Cpu, Threads) = (Ok + ok, Failed + failed, Cpu + used, threadsAfter.Count);
            return ok / used;
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
            try
            {
                Directory.Delete(_data, true);
            }
            catch (IOException)
            {
            }
        }
    }
}
