using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace Ema.Benchmarks;

/// <summary>
/// Runs the benchmarks. <c>exchange</c> runs the HTTP token-exchange load instead of BenchmarkDotNet; <c>mcp</c> the authenticated ÷ unauthenticated MCP <c>tools/call</c> load (<c>mcp-host</c> is its server process). <c>--quick</c> uses fewer iterations (for a smoke run); the figures in docs/benchmarks.md come
/// from the default job.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "exchange")
        {
            return ExchangeLoad.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "exchange-audit")
        {
            return AuditComparison.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "policy")
        {
            // The policy engine alone (the second half of `exchange --policy`), for quick iterations on its cost.
            Console.WriteLine(PolicyEvaluation.MeasureAsync(TimeSpan.FromSeconds(ExchangeLoad.ArgInt(args, "--seconds", 5)), 2_000_000).GetAwaiter().GetResult());
            return 0;
        }

        if (args.Length > 0 && args[0] == "audit-write")
        {
            return AuditWriteLoad.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "flush-floor")
        {
            return FlushFloor.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "exchange-host")
        {
            return ExchangeLoad.AuditVariantHostAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "mcp")
        {
            return McpLoad.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "fanout")
        {
            return FanoutLoad.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "fanout-host")
        {
            return FanoutLoad.HostAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "mcp-host")
        {
            return McpLoad.HostAsync(args[1..]).GetAwaiter().GetResult();
        }

        var quick = args.Contains("--quick");
        var rest = args.Where(a => a != "--quick").ToArray();
        var job = quick
            ? Job.Default.WithWarmupCount(1).WithIterationCount(3).WithLaunchCount(1)
            : Job.Default.WithWarmupCount(4).WithIterationCount(15).WithLaunchCount(1);
        var config = DefaultConfig.Instance.AddJob(job.AsDefault()).WithOptions(ConfigOptions.JoinSummary);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.Length == 0 ? ["--filter", "*"] : rest, config);
        return 0;
    }
}
