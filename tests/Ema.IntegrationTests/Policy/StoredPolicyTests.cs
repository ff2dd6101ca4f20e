using Ema.Protocol;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Policy;
using Ema.Server.Stores;
using Ema.Storage;
using Ema.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.Policy;

/// <summary>
/// A stored policy version in force that cannot be read fails closed: never a silent return to entitlements v1, which
/// would grant what the policy was written to refuse. A real SQLite file, with entitlements that would allow.
/// </summary>
public sealed class StoredPolicyTests : IAsyncLifetime
{
    private const string DenyTicketsWithAnAnchor = "version: 1\ndefault: deny\nrules:\n  - { id: no-tickets, effect: deny, subjects: { groups: &g [grp-all] }, resources: [res-tickets] }\n";
    private const string DenyTickets = "version: 1\ndefault: deny\nrules:\n  - { id: no-tickets, effect: deny, subjects: { groups: [grp-all] }, resources: [res-tickets] }\n";
    private static readonly DateTimeOffset Start = new(2026, 11, 18, 10, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Directory.CreateTempSubdirectory("ema-stored-policy-").FullName;
    private readonly FakeTimeProvider _time = new(Start);
    private ServiceProvider _services = null!;

    private IPolicyStore Store => _services.GetRequiredService<IPolicyStore>();

    public async Task InitializeAsync()
    {
        _services = new ServiceCollection().AddLogging().AddEmaSqliteStorage(Path.Combine(_folder, "ema.db")).BuildServiceProvider();
        foreach (var task in _services.GetServices<Ema.Server.IStartupTask>().OrderBy(t => t.Order))
        {
            await task.RunAsync(default);
        }

        // Entitlements v1, broad: everyone in grp-all may use every scope of Tickets.
        var applications = _services.GetRequiredService<IApplicationStore>();
        Assert.True(await applications.CreateClientAsync(Request().Client, default));
        Assert.True(await applications.CreateResourceAsync(Request().Resource, default));
        Assert.True(await _services.GetRequiredService<IEntitlementStore>().CreateAsync(new Entitlement("ent-all", EntitlementSubjectType.Group, "grp-all", "ema-agent", "res-tickets", ["tickets.read", "tickets.write"]), default));
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task StoredVersionThatNoLongerParses_RefusesEveryRequest_NeverFallsBackToEntitlements()
    {
        // Stored before the parser refused anchors (or by an older release): it no longer parses.
        await Store.AddAsync(DenyTicketsWithAnAnchor, "admin", null, null, default);
        var policy = Policy();
        Assert.True((await Policy(withoutStore: true).EvaluateAsync(Request(), default)).Allowed); // what entitlements alone would say

        var decision = await policy.EvaluateAsync(Request(), default);
        Assert.False(decision.Allowed);
        Assert.Equal(ErrorIds.PolicyUnreadable.Id, decision.Error!.ErrorId);
        Assert.False(string.IsNullOrEmpty(decision.Error.DecisionId));
        Assert.Contains(decision.Explanation, e => e.Contains("version 1", StringComparison.Ordinal) && e.Contains("line 4", StringComparison.Ordinal));
        Assert.Empty(await policy.ListEntitledAsync(Request().User, ["grp-all"], [], Request().Client, default));
    }

    [Fact]
    public async Task StoredVersionAlteredInTheDatabase_RefusesEveryRequest()
    {
        await Store.AddAsync(DenyTickets, "admin", null, null, default);
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(_folder, "ema.db")}"))
        {
            await connection.OpenAsync();
            using var edit = connection.CreateCommand();
            edit.CommandText = "UPDATE policy_versions SET yaml = replace(yaml, 'effect: deny', 'effect: allow')";
            Assert.Equal(1, await edit.ExecuteNonQueryAsync());
        }

        var decision = await Policy().EvaluateAsync(Request(), default);
        Assert.False(decision.Allowed);
        Assert.Equal(ErrorIds.PolicyUnreadable.Id, decision.Error!.ErrorId);
        Assert.Contains(decision.Explanation, e => e.Contains("altered after it was stored", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rollback_ToAVersionThatNoLongerParses_IsRefusedWithItsErrors_AndNothingIsApplied()
    {
        await Store.AddAsync(DenyTicketsWithAnAnchor, "admin", null, null, default);
        var valid = await new PolicyAdministration(Store).ImportAsync(DenyTickets, "admin", null, default);
        Assert.NotNull(valid.Version);

        var (rolledBack, errors) = await new PolicyAdministration(Store).RollbackAsync(1, "admin", default);
        Assert.Null(rolledBack);
        Assert.Contains(errors, e => e.Line == 4);
        Assert.Equal(2, (await Store.GetCurrentAsync(default))!.Version); // still the valid one
        Assert.False((await Policy().EvaluateAsync(Request(), default)).Allowed);
        Assert.Equal(ErrorIds.PolicyDenied.Id, (await Policy().EvaluateAsync(Request(), default)).Error!.ErrorId);
    }

    [Fact]
    public async Task PolicyImport_AndItsAuditRecord_AreStoredTogetherOrNotAtAll()
    {
        static Ema.Server.Audit.AuditEvent Record(PolicyVersion v) => new()
        {
            Id = "evt-policy-" + v.Version, Time = Start, Type = Ema.Server.Audit.AuditEventTypes.AdminChange, Action = "policy",
            Outcome = Ema.Server.Audit.AuditOutcomes.Succeeded, Subject = "usr-admin", Resource = v.Sha256, Reason = $"policy version {v.Version} imported",
        };

        // The audit cannot be written (here: a trigger refuses every block, as a full disk would refuse the commit).
        await SqlAsync("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_blocks BEGIN SELECT RAISE(ABORT, 'audit refused'); END;");
        await Assert.ThrowsAsync<Ema.Server.Audit.AuditUnavailableException>(() => new PolicyAdministration(Store).ImportAsync(DenyTickets, "admin", null, default, Record));
        Assert.Empty(await Store.ListAsync(default)); // not in force unrecorded

        await SqlAsync("DROP TRIGGER refuse_audit;");
        var (version, _) = await new PolicyAdministration(Store).ImportAsync(DenyTickets, "admin", null, default, Record);
        Assert.Equal(1, version!.Version);
        var records = await _services.GetRequiredService<Ema.Server.Audit.IAuditReader>().ListAsync(new Ema.Server.Audit.AuditQuery { Limit = 10 }, default);
        Assert.Equal("evt-policy-1", Assert.Single(records).Id);
    }

    [Fact]
    public async Task PolicyReferences_NamesThatMatchNothing_AreWarnings()
    {
        var directory = _services.GetRequiredService<IDirectoryStore>();
        Assert.True(await directory.CreateGroupAsync(new Group("grp-engineering", "engineering"), default));
        Assert.True(await directory.CreateUserAsync(new User("usr-alice", "alice", "Alice", null, UserStatus.Active), "not-a-real-hash", default));
        Assert.True(await directory.AddRoleAsync("usr-alice", "contractor", default));
        var (document, errors) = PolicyYaml.Parse("""
            version: 1
            default: deny
            rules:
              - { id: fine, effect: allow, subjects: { groups: [grp-engineering], users: [usr-alice], roles: [contractor] }, clients: [ema-agent], resources: [res-tickets, "https://mcp.example/tickets/"] }
              - { id: typos, effect: deny, subjects: { groups: [GRP-engineering, engineering], users: [alice], roles: [Contractor, auditor] }, clients: [ema-agnet], resources: [res-ticket] }
            """);
        Assert.Empty(errors);
        var warnings = await PolicyReferences.FindUnknownAsync(document!, directory, _services.GetRequiredService<IApplicationStore>(), default);
        Assert.All(warnings, w => Assert.Equal(5, w.Line));
        Assert.Equal(
            [
                "rule 'typos' names the user 'alice', which does not exist (rules name users by id: 'usr-alice' is alice): this deny rule denies nothing for it",
                "rule 'typos' names the group 'GRP-engineering', which does not exist (did you mean 'grp-engineering'? names are case-sensitive): this deny rule denies nothing for it",
                "rule 'typos' names the group 'engineering', which does not exist (rules name groups by id: 'grp-engineering' is engineering): this deny rule denies nothing for it",
                "rule 'typos' names the role 'Contractor', which no user holds (did you mean 'contractor'? names are case-sensitive): this deny rule denies nothing for it until a user has it",
                "rule 'typos' names the role 'auditor', which no user holds: this deny rule denies nothing for it until a user has it",
                "rule 'typos' names the client 'ema-agnet', which does not exist: this deny rule denies nothing for it",
                "rule 'typos' names the resource 'res-ticket', which does not exist: this deny rule denies nothing for it",
            ],
            warnings.Select(w => w.Message));
    }

    [Fact]
    public async Task PolicyReferences_AWindowPastMidnightWithChosenDays_SaysWhatItCovers()
    {
        var (document, _) = PolicyYaml.Parse("version: 1\ndefault: deny\nrules:\n  - { id: night-shift, effect: allow, when: { hours: { days: [fri], from: \"22:00\", to: \"06:00\" } } }\n");
        var warning = Assert.Single(await PolicyReferences.FindUnknownAsync(document!, _services.GetRequiredService<IDirectoryStore>(), _services.GetRequiredService<IApplicationStore>(), default));
        Assert.Equal(4, warning.Line);
        Assert.Equal("rule 'night-shift': hours 22:00–06:00 run past midnight: they cover Friday from 22:00 until 06:00 the next morning", warning.Message);
    }

    [Theory]
    [InlineData("version: 1\ndefault: deny\nrules:\n  - { id: x, effect: permit }\n")]
    [InlineData(null)] // removed
    public async Task PolicyFile_UnreadableWhenTheIdpBuildsItsPolicy_RefusesEveryRequest_NeverFallsBackToTheStoreOrEntitlements(string? contents)
    {
        // Validated at start-up, then changed or removed before the policy was built: the operator chose the file.
        var file = Path.Combine(_folder, "policy.yaml");
        if (contents is not null)
        {
            await File.WriteAllTextAsync(file, contents);
        }

        var policy = AccessPolicyFactory.Create(file, Store, _services.GetRequiredService<IApplicationStore>(), _services.GetRequiredService<IEntitlementStore>(), _time, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var decision = await policy.EvaluateAsync(Request(), default);
        Assert.False(decision.Allowed);
        Assert.Equal(ErrorIds.PolicyUnreadable.Id, decision.Error!.ErrorId);
        Assert.Contains(decision.Explanation, e => e.Contains("policy file", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ChangeWithItsRecord_AChangeOrRecordThatThrows_IsUndoneAlone_AndEveryRecordAroundItIsStored()
    {
        var log = _services.GetRequiredService<Ema.Storage.Stores.SqliteAuditLog>();
        static Ema.Server.Audit.AuditEvent Event(string id) => new() { Id = id, Time = Start, Type = Ema.Server.Audit.AuditEventTypes.AdminChange, Action = "probe", Outcome = Ema.Server.Audit.AuditOutcomes.Succeeded, Subject = "usr-admin" };
        await SqlAsync("CREATE TABLE probe (x INTEGER)");

        // The change fails after its statement ran; then the record's factory fails after the change ran: each caller
        // gets its own exception, and the statement is undone (a savepoint per change).
        var changeFailed = await Assert.ThrowsAsync<InvalidOperationException>(() => log.WriteWithChangeAsync<int>(
            async (c, t) =>
            {
                await Dapper.SqlMapper.ExecuteAsync(c, "INSERT INTO probe VALUES (1)", transaction: t);
                throw new InvalidOperationException("the change failed");
            },
            _ => Event("evt-never-1"),
            default));
        Assert.Equal("the change failed", changeFailed.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => log.WriteWithChangeAsync<int>(
            (c, t) => Dapper.SqlMapper.ExecuteAsync(c, "INSERT INTO probe VALUES (2)", transaction: t), _ => throw new InvalidOperationException("the record failed"), default));

        // Ordinary records around a failing change, many in its batch: the change is undone alone and every one of
        // them is stored — an administrator's failing change never fails the token exchanges committed with it.
        var around = Enumerable.Range(0, 100).Select(i => log.WriteAsync(Event("evt-around-" + i), default)).ToList();
        var failing = log.WriteWithChangeAsync<int>(
            async (c, t) =>
            {
                await Dapper.SqlMapper.ExecuteAsync(c, "INSERT INTO probe VALUES (3)", transaction: t);
                throw new InvalidOperationException("the change failed");
            },
            _ => Event("evt-never-3"),
            default);
        var later = Enumerable.Range(0, 100).Select(i => log.WriteAsync(Event("evt-later-" + i), default)).ToList();
        await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        await Task.WhenAll(around.Concat(later));

        var ids = (await _services.GetRequiredService<Ema.Server.Audit.IAuditReader>().ListAsync(new Ema.Server.Audit.AuditQuery { Limit = 1000 }, default)).Select(e => e.Id).ToList();
        Assert.DoesNotContain(ids, id => id.StartsWith("evt-never", StringComparison.Ordinal));
        Assert.Equal(200, ids.Count(id => id.StartsWith("evt-around-", StringComparison.Ordinal) || id.StartsWith("evt-later-", StringComparison.Ordinal)));
        Assert.True((await log.VerifyChainAsync(default)).Intact);
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_folder, "ema.db")};Pooling=False");
        await connection.OpenAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM probe";
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
    }

    private async Task SqlAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_folder, "ema.db")};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private ManagedAccessPolicy Policy(bool withoutStore = false) =>
        new(null, withoutStore ? null : Store, _services.GetRequiredService<IApplicationStore>(), _services.GetRequiredService<IEntitlementStore>(), _time);

    private static AccessRequest Request() => new()
    {
        User = new User("usr-alice", "alice", "Alice", null, UserStatus.Active, "Engineering"),
        GroupIds = ["grp-all"],
        Roles = [],
        Client = new ClientApplication { ClientId = "ema-agent", Name = "Ema Agent", AuthenticationMethod = ClientAuthenticationMethods.ClientSecretBasic },
        Resource = new ResourceApplication { Id = "res-tickets", DisplayName = "Tickets", Resource = "https://mcp.example/tickets", AuthorizationServerIssuer = "https://as.example", Scopes = [new("tickets.read"), new("tickets.write")] },
        RequestedScopes = [],
        Authentication = new AuthenticationContext(Start, ["pwd"], null),
        Now = Start,
    };
}
