using System.Globalization;
using System.Security.Claims;
using Ema.Server.AspNetCore.Mcp;
using ModelContextProtocol.Server;

namespace Ema.Samples;

/// <summary>A finance ledger: ledger.read reads balances and entries; ledger.write (high risk) posts journal entries.</summary>
public sealed class FinanceLedger
{
    public const string ReadScope = "ledger.read";
    public const string WriteScope = "ledger.write";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, decimal> _balances = new(StringComparer.Ordinal) { ["cash"] = 125_000m, ["receivables"] = 48_250m, ["payables"] = -31_400m };
    private readonly List<string> _journal = ["2026-11-01 cash -> payables 12,000.00 (rent)"];

    public EmaMcpServerDefinition Definition() => new()
    {
        ServerInfo = new() { Name = "finance-ledger", Version = "1.0.0" },
        Instructions = "The general ledger. Posting entries moves money: it needs ledger.write.",
        Tools =
        [
            new(McpServerTool.Create(Balance, new() { Name = "get_balance", Description = "Balance of an account (cash, receivables, payables)." }), ReadScope),
            new(McpServerTool.Create(Entries, new() { Name = "list_entries", Description = "Recent journal entries." }), ReadScope),
            new(McpServerTool.Create(Post, new() { Name = "post_journal_entry", Description = "Move an amount from one account to another." }), WriteScope),
        ],
    };

    private string Balance(string account)
    {
        lock (_lock)
        {
            return _balances.TryGetValue(account, out var value) ? value.ToString("N2", CultureInfo.InvariantCulture) : $"No account '{account}'.";
        }
    }

    private string Entries()
    {
        lock (_lock)
        {
            return string.Join('\n', _journal.TakeLast(10));
        }
    }

    private string Post(string from, string to, decimal amount, string memo, ClaimsPrincipal? user)
    {
        if (amount <= 0)
        {
            return "The amount must be positive.";
        }

        lock (_lock)
        {
            if (!_balances.ContainsKey(from) || !_balances.ContainsKey(to))
            {
                return "Unknown account.";
            }

            _balances[from] -= amount;
            _balances[to] += amount;
            _journal.Add($"{from} -> {to} {amount.ToString("N2", CultureInfo.InvariantCulture)} ({memo}) by {user?.FindFirst("sub")?.Value}");
            return $"Posted {amount.ToString("N2", CultureInfo.InvariantCulture)} from {from} to {to}.";
        }
    }
}
