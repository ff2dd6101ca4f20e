using System.Diagnostics;
using System.Text;
using Ema.Server.Model;
using Ema.Server.Policy;
using Ema.Server.Stores;

namespace Ema.Benchmarks;

/// <summary>
/// Policy evaluation at enterprise size: 1,000 rules (allow and deny; users, groups, roles, clients, resources, scopes;
/// MFA, network, hours and department conditions) over 10,000 users in 500 groups and 20 resources, parsed from YAML by
/// the real parser and evaluated by the real engine. Reports CPU microseconds per decision (single thread).
/// </summary>
public static class PolicyEvaluation
{
    public const int RuleCount = 1_000;
    public const int UserCount = 10_000;
    private const int GroupCount = 500;
    private const int ResourceCount = 20;

    public sealed record Result(double MicrosecondsPerDecision, int Decisions, int Allowed, int Rules)
    {
        public override string ToString() =>
            $"policy evaluation ({Rules} rules, {UserCount} users, {Decisions} decisions, {Allowed} allowed): {MicrosecondsPerDecision:F1} µs CPU/decision";
    }

    public static async Task<Result> MeasureAsync(TimeSpan duration, int maxDecisions)
    {
        var random = new Sequence(20261129); // fixed seed: the same policy and requests every run
        var resources = Enumerable.Range(0, ResourceCount).Select(i => new ResourceApplication
        {
            Id = $"res-{i}",
            DisplayName = $"Server {i}",
            Resource = $"https://mcp{i}.example/mcp",
            AuthorizationServerIssuer = "https://as.example",
            Scopes = [new($"s{i}.read"), new($"s{i}.write", ScopeRisk.Medium), new($"s{i}.admin", ScopeRisk.High)],
        }).ToArray();
        var (document, errors) = PolicyYaml.Parse(Yaml(random));
        if (document is null)
        {
            throw new InvalidOperationException("generated policy is invalid: " + string.Join("; ", errors));
        }

        var policy = new RulePolicy(document, new Ema.Testing.FixedResourceStore(resources));
        var clients = new[] { new ClientApplication { ClientId = "ema-agent", Name = "Agent", AuthenticationMethod = "client_secret_basic" }, new ClientApplication { ClientId = "desktop", Name = "Desktop", AuthenticationMethod = "none" } };
        var now = new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
        var requests = Enumerable.Range(0, 4096).Select(_ =>
        {
            var u = random.Next(UserCount);
            var resource = resources[random.Next(ResourceCount)];
            return new AccessRequest
            {
                User = new User($"u{u}", $"user{u}", $"User {u}", null, UserStatus.Active, u % 3 == 0 ? "Engineering" : "Finance"),
                GroupIds = [.. Enumerable.Range(0, 3).Select(k => $"g{(u * 7 + k * 131) % GroupCount}").Distinct()],
                Roles = u % 10 == 0 ? ["manager"] : [],
                Client = clients[u % 2],
                Resource = resource,
                RequestedScopes = [resource.Scopes[0].Name],
                Authentication = new AuthenticationContext(now.AddMinutes(-5), u % 2 == 0 ? ["pwd", "otp", "mfa"] : ["pwd"], null),
                RemoteAddress = u % 4 == 0 ? "10.1.2.3" : "192.0.2.7",
                Now = now,
            };
        }).ToArray();

        // Warm up, then measure this process's CPU time over a bounded loop.
        for (var i = 0; i < 2_000; i++)
        {
            await policy.EvaluateAsync(requests[i % requests.Length], default);
        }

        var allowed = 0;
        var decisions = 0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration && decisions < maxDecisions)
        {
            var decision = await policy.EvaluateAsync(requests[decisions % requests.Length], default);
            allowed += decision.Allowed ? 1 : 0;
            decisions++;
        }

        var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        return new(used.TotalMicroseconds / decisions, decisions, allowed, document.Rules.Count);
    }

    private static string Yaml(Sequence random)
    {
        var yaml = new StringBuilder("version: 1\ndefault: deny\nrules:\n");
        for (var i = 0; i < RuleCount; i++)
        {
            var resource = random.Next(ResourceCount);
            yaml.Append($"  - id: rule-{i}\n    effect: {(i % 10 == 9 ? "deny" : "allow")}\n    priority: {random.Next(5)}\n");
            yaml.Append((i % 5) switch
            {
                0 => $"    subjects: {{ users: [u{random.Next(UserCount)}, u{random.Next(UserCount)}, u{random.Next(UserCount)}] }}\n",
                1 => "    subjects: { roles: [manager] }\n",
                _ => $"    subjects: {{ groups: [g{random.Next(GroupCount)}, g{random.Next(GroupCount)}] }}\n",
            });
            yaml.Append($"    clients: [{(i % 3 == 0 ? "desktop" : "ema-agent")}]\n    resources: [res-{resource}]\n    scopes: [s{resource}.read{(i % 4 == 0 ? $", s{resource}.write" : string.Empty)}]\n");
            yaml.Append((i % 8) switch
            {
                0 => "    when: { mfa: true }\n",
                1 => "    when: { networks: [10.0.0.0/8] }\n",
                2 => "    when: { hours: { days: [mon, tue, wed, thu, fri], from: \"08:00\", to: \"18:00\" } }\n",
                3 => "    when: { department: [Engineering] }\n",
                _ => string.Empty,
            });
        }

        return yaml.ToString();
    }

    /// <summary>A seeded xorshift sequence: reproducible workload shapes (nothing secret; System.Random is banned here).</summary>
    private sealed class Sequence(ulong seed)
    {
        private ulong _state = seed | 1;

        public int Next(int bound)
        {
            _state ^= _state << 13;
            _state ^= _state >> 7;
            _state ^= _state << 17;
            return (int)(_state % (ulong)bound);
        }
    }
}
