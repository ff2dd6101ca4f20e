using System.Diagnostics;
using Ema.Server;
using Ema.Server.Audit;
using Ema.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ema.Benchmarks;

/// <summary>
/// <c>audit-write</c>: the durable audit log alone, in process — 64 concurrent writers, a bounded number of records —
/// reporting this process's CPU per record: the full hash-chained block write, and the group-commit queue with nothing
/// written. Splits the cost of the audit in a token exchange.
/// </summary>
public static class AuditWriteLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        var records = ExchangeLoad.ArgInt(args, "--records", 60_000);
        var writers = ExchangeLoad.ArgInt(args, "--writers", 64);
        var sample = new AuditEvent { Id = "dec_0000000001", Time = TimeProvider.System.GetUtcNow(), Type = AuditEventTypes.TokenExchange, Outcome = AuditOutcomes.Granted, Reason = "rule research-tickets (allow, line 4) allows tickets.read", ClientId = "ema-agent", Subject = "usr-1", Resource = "https://127.0.0.1:7443/mcp/tickets", TokenId = "jag", ParentTokenId = "idt" };
        var hashCpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < 200_000; i++)
        {
            AuditChain.Hash(i, AuditChain.Genesis, sample);
        }

        Console.WriteLine($"chain hash alone: {(Process.GetCurrentProcess().TotalProcessorTime - hashCpu).TotalMicroseconds / 200_000:F2} µs CPU/record");

        // Its two halves, with the writer reused as the store does: the canonical JSON, then SHA-256 over it.
        var canonical = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using var json = new System.Text.Json.Utf8JsonWriter(canonical);
        var jsonCpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < 200_000; i++)
        {
            canonical.ResetWrittenCount();
            json.Reset(canonical);
            AuditChain.WriteCanonical(json, i, AuditChain.Genesis, sample);
            json.Flush();
        }

        var shaCpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < 200_000; i++)
        {
            AuditChain.HashCanonical(canonical.WrittenSpan);
        }

        var end = Process.GetCurrentProcess().TotalProcessorTime;
        Console.WriteLine($"  canonical JSON {(shaCpu - jsonCpu).TotalMicroseconds / 200_000:F2} µs + SHA-256 of its {canonical.WrittenCount} bytes {(end - shaCpu).TotalMicroseconds / 200_000:F2} µs");
        foreach (var variant in new[] { "full", "queue-only", "full" })
        {
            var folder = Path.Combine(Path.GetTempPath(), "ema-audit-bench-" + Guid.CreateVersion7().ToString("N"));
            Directory.CreateDirectory(folder);
            var services = new ServiceCollection().AddLogging(l => l.SetMinimumLevel(LogLevel.Warning)).AddEmaSqliteStorage(Path.Combine(folder, "ema.db")).BuildServiceProvider();
            await using (services.ConfigureAwait(false))
            {
                foreach (var task in services.GetServices<IStartupTask>().OrderBy(t => t.Order))
                {
                    await task.RunAsync(default);
                }

                var sink = services.GetRequiredService<IAuditSink>();
                var queue = services.GetRequiredService<SqliteWriteQueue>();
                var next = -1;
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < records)
                    {
                        var now = TimeProvider.System.GetUtcNow();
                        var record = new AuditEvent
                        {
                            Id = $"dec_{i:D10}", Time = now, Type = AuditEventTypes.TokenExchange, Outcome = AuditOutcomes.Granted, Action = "urn:ietf:params:oauth:grant-type:token-exchange",
                            Reason = "rule research-tickets (allow, line 4) allows tickets.read", ClientId = "ema-agent", Subject = $"usr-{i % 1000}", Resource = "https://127.0.0.1:7443/mcp/tickets",
                            Audience = "https://127.0.0.1:7443/as", Scope = "tickets.read", TokenId = $"jag_{i:D10}", ParentTokenId = $"idt_{i % 5000:D10}", SessionId = $"sid_{i % 1000}", RemoteAddress = "127.0.0.1",
                        };
                        if (variant == "queue-only")
                        {
                            await queue.WriteAsync((_, _) => Task.FromResult(true), default);
                        }
                        else
                        {
                            await sink.WriteAsync(record, default);
                        }
                    }
                })));
                var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                Console.WriteLine($"{variant,-22} {records} records in {clock.Elapsed.TotalSeconds:F2} s: {used.TotalMicroseconds / records:F1} µs CPU/record, {records / clock.Elapsed.TotalSeconds:F0} records/s");
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, true);
        }

        return 0;
    }
}
