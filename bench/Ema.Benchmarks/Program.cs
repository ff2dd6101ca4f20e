using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace Ema.Benchmarks;

/// <summary>
/// Runs the benchmarks. <c>--quick</c> uses fewer iterations (for a smoke run); the figures in docs/benchmarks.md come
/// from the default job.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        var quick = args.Contains("--quick");
        var rest = args.Where(a => a != "--quick").ToArray();
        var job = quick
            ? Job.Default.WithWarmupCount(1).WithIterationCount(3).WithLaunchCount(1)
            : Job.Default.WithWarmupCount(4).WithIterationCount(15).WithLaunchCount(1);
        var config = DefaultConfig.Instance.AddJob(job.AsDefault()).WithOptions(ConfigOptions.JoinSummary);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.Length == 0 ? ["--filter", "*"] : rest, config);
    }
}
