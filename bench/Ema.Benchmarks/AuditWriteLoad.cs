using System.Diagnostics;
using Ema.Server;
using Ema.Server.Audit;
using Ema.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ema.Benchmarks;

/// <summary>
/// <c>audit-write</c>: the durable audit log alone, in process — 64 concurrent writers, a bounded number of records —
/// reporting this process's CPU per record: the full hash-chained insert, the same with the secondary indexes dropped,
/// and the group-commit queue with nothing inserted. Splits the cost of the audit in a token exchange.
/// </summary>
public static class AuditWriteLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        var records = ExchangeLoad.ArgInt(args, "--records", 60_000);
        var sample = new AuditEvent { Id = "dec_0000000001", Time = TimeProvider.System.GetUtcNow(), Type = AuditEventTypes.TokenExchange, Outcome = AuditOutcomes.Granted, Reason = "rule research-tickets (allow, line 4) allows tickets.read", ClientId = "ema-agent", Subject = "usr-1", Resource = "https://127.0.0.1:7443/mcp/tickets", TokenId = "jag", ParentTokenId = "idt" };
        var hashCpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < 200_000; i++)
        {
            AuditChain.Hash(i, AuditChain.Genesis, sample);
        }

        Console.WriteLine($"chain hash alone: {(Process.GetCurrentProcess().TotalProcessorTime - hashCpu).TotalMicroseconds / 200_000:F2} µs CPU/record");
        if (args.Contains("--bulk"))
        {
            return await BulkAsync(records);
        }

        foreach (var variant in new[] { "full", "no-secondary-indexes", "queue-only", "full" })
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

                if (variant == "no-secondary-indexes")
                {
                    await services.GetRequiredService<SqliteDatabase>().RunAsync(c => Dapper.SqlMapper.ExecuteAsync(c, "DROP INDEX ix_audit_subject; DROP INDEX ix_audit_token; DROP INDEX ix_audit_parent_token;"), default);
                }

                var sink = services.GetRequiredService<IAuditSink>();
                var queue = services.GetRequiredService<SqliteWriteQueue>();
                var next = -1;
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
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

    /// <summary>
    /// <c>audit-write --bulk</c>: the same records inserted into the same indexed table by one writer in transactions of
    /// 5,000 (as a projection built off the request path would): what the B-tree work costs when it is batched.
    /// </summary>
    private static async Task<int> BulkAsync(int records)
    {
        var folder = Path.Combine(Path.GetTempPath(), "ema-audit-bulk-" + Guid.CreateVersion7().ToString("N"));
        Directory.CreateDirectory(folder);
        var services = new ServiceCollection().AddLogging(l => l.SetMinimumLevel(LogLevel.Warning)).AddEmaSqliteStorage(Path.Combine(folder, "ema.db")).BuildServiceProvider();
        await using (services.ConfigureAwait(false))
        {
            foreach (var task in services.GetServices<IStartupTask>().OrderBy(t => t.Order))
            {
                await task.RunAsync(default);
            }

            await using var connection = await services.GetRequiredService<SqliteDatabase>().OpenAsync(default);
            await Dapper.SqlMapper.ExecuteAsync(connection, "PRAGMA synchronous=FULL;");
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            for (var start = 0; start < records; start += 5_000)
            {
                await using var transaction = connection.BeginTransaction();
                await using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO audit_events (id, time, type, outcome, reason, client_id, subject, resource, audience, scope, token_id, parent_token_id, session_id, remote_address, seq, prev_hash, hash) VALUES ($id, $time, 'token_exchange', 'granted', 'rule research-tickets (allow, line 4) allows tickets.read', 'ema-agent', $subject, 'https://127.0.0.1:7443/mcp/tickets', 'https://127.0.0.1:7443/as', 'tickets.read', $token, $parent, $session, '127.0.0.1', $seq, $prev, $hash)";
                var p = new[] { "$id", "$time", "$subject", "$token", "$parent", "$session", "$seq", "$prev", "$hash" }.Select(n => insert.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter { ParameterName = n })).ToArray();
                for (var i = start; i < Math.Min(records, start + 5_000); i++)
                {
                    p[0].Value = $"dec_{i:D10}";
                    p[1].Value = i;
                    p[2].Value = $"usr-{i % 1000}";
                    p[3].Value = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i)))[..22];
                    p[4].Value = $"idt_{(i * 7919) % 5000:D10}";
                    p[5].Value = $"sid_{i % 1000}";
                    p[6].Value = i + 1;
                    p[7].Value = AuditChain.Genesis;
                    p[8].Value = AuditChain.Genesis;
                    await insert.ExecuteNonQueryAsync();
                }

                await transaction.CommitAsync();
            }

            var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            Console.WriteLine($"bulk (5,000 per transaction) {records} records: {used.TotalMicroseconds / records:F1} µs CPU/record");
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(folder, true);
        return 0;
    }
}
