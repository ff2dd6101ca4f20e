using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ema.Benchmarks;

/// <summary>
/// <c>flush-floor</c>: what one durable commit costs this machine with no database at all — a <c>pwrite</c> of one
/// batch's bytes and an <c>fdatasync</c>, in a loop, this process's CPU per commit. Two layouts: overwriting a file whose
/// blocks were written before (as SQLite reuses its WAL) and appending to a growing file (each flush also writes the new
/// size and block map). The floor under any group-committed audit on this machine (docs/benchmarks.md). Linux only.
/// </summary>
public static partial class FlushFloor
{
    public static int Run(string[] args)
    {
        var commits = Math.Clamp(ExchangeLoad.ArgInt(args, "--commits", 3000), 100, 100_000);
        foreach (var size in new[] { 4096, 24 * 1024, 64 * 1024 })
        {
            foreach (var preWritten in new[] { true, false })
            {
                var path = Path.Combine(Path.GetTempPath(), "ema-flush-" + Guid.CreateVersion7().ToString("N"));
                try
                {
                    var (cpu, wall) = Measure(path, commits, size, preWritten);
                    Console.WriteLine($"{(preWritten ? "overwrite" : "append"),-9} {size / 1024,3} KB per commit: {cpu:F1} µs CPU, {wall:F0} µs wall per commit ({commits} commits)");
                }
                finally
                {
                    File.Delete(path);
                }
            }
        }

        return 0;
    }

    private static (double Cpu, double Wall) Measure(string path, int commits, int size, bool preWritten)
    {
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        var batch = new byte[size];
        System.Security.Cryptography.RandomNumberGenerator.Fill(batch);
        if (preWritten)
        {
            var zeros = new byte[1 << 20];
            for (long at = 0; at < (long)commits * size; at += zeros.Length)
            {
                RandomAccess.Write(handle, zeros, at);
            }

            Sync(handle);
        }

        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < commits; i++)
        {
            RandomAccess.Write(handle, batch, (long)i * size);
            Sync(handle);
        }

        return ((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / commits, wall.Elapsed.TotalMicroseconds / commits);
    }

    // fdatasync, as a database would call it (.NET's Flush(true) is fsync).
    private static void Sync(SafeFileHandle handle)
    {
        if (FileDataSync((int)handle.DangerousGetHandle()) != 0)
        {
            throw new IOException($"fdatasync failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FileDataSync(int fd);
}
