using Ema.Protocol;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Policy;

namespace Ema.IntegrationTests.Policy;

/// <summary>The policy engine's rules, each test named after the rule it enforces (issue [5 of 5], part 1).</summary>
public sealed class RulePolicyTests
{
    private static readonly DateTimeOffset Wednesday10 = new(2026, 11, 18, 10, 0, 0, TimeSpan.Zero);

    private static readonly ResourceApplication Tickets = new()
    {
        Id = "res-tickets", DisplayName = "Tickets", Resource = "https://mcp.example/tickets", AuthorizationServerIssuer = "https://as.example",
        Scopes = [new("tickets.read"), new("tickets.write", ScopeRisk.Medium)],
    };

    private static readonly ResourceApplication Ledger = new()
    {
        Id = "res-ledger", DisplayName = "Ledger", Resource = "https://mcp.example/ledger", AuthorizationServerIssuer = "https://as.example",
        Scopes = [new("ledger.read"), new("ledger.write", ScopeRisk.High)],
    };

    [Fact]
    public async Task DenyOverridesAllow_WhateverThePriority()
    {
        var policy = Policy("""
            - { id: contractors-tickets, effect: allow, priority: 900, subjects: { groups: [grp-contractors] }, resources: [res-tickets] }
            - { id: contractors-no-write, effect: deny, priority: 1, subjects: { groups: [grp-contractors] }, resources: [res-tickets], scopes: [tickets.write] }
            """);
        var both = await policy.EvaluateAsync(Request(groups: ["grp-contractors"], scopes: ["tickets.read", "tickets.write"]), default);
        Assert.Equal(["tickets.read"], both.GrantedScopes);
        Assert.Contains(both.Explanation, e => e.Contains("contractors-no-write", StringComparison.Ordinal) && e.Contains("denies tickets.write", StringComparison.Ordinal));
        var writeOnly = await policy.EvaluateAsync(Request(groups: ["grp-contractors"], scopes: ["tickets.write"]), default);
        Assert.Equal(ErrorCodes.InvalidScope, writeOnly.Error!.Code);
    }

    [Fact]
    public async Task DenyWithoutScopes_BlocksTheWholeResource()
    {
        var policy = Policy("""
            - { id: everyone-tickets, effect: allow }
            - { id: no-tickets-for-bob, effect: deny, subjects: { users: [usr-bob] }, resources: [https://mcp.example/tickets] }
            """);
        var decision = await policy.EvaluateAsync(Request(user: "usr-bob"), default);
        Assert.Equal(ErrorIds.PolicyDenied.Id, decision.Error!.ErrorId);
        Assert.False(string.IsNullOrEmpty(decision.Error.DecisionId));
        Assert.True((await policy.EvaluateAsync(Request(user: "usr-alice"), default)).Allowed);
    }

    [Fact]
    public async Task DefaultDeny_WhenNoRuleAllows_WithTheExplanation()
    {
        var policy = Policy("""
            - { id: finance-ledger, effect: allow, subjects: { groups: [grp-finance] }, resources: [res-ledger] }
            """);
        var decision = await policy.EvaluateAsync(Request(groups: ["grp-engineering"]), default);
        Assert.Equal(ErrorIds.PolicyDenied.Id, decision.Error!.ErrorId);
        Assert.Contains("default: deny", decision.Explanation[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Condition_Mfa_WithoutIt_AsksForStepUp()
    {
        var policy = Policy("""
            - { id: mfa-tickets, effect: allow, when: { mfa: true } }
            """);
        var password = await policy.EvaluateAsync(Request(amr: ["pwd"]), default);
        Assert.Equal(ErrorCodes.InsufficientUserAuthentication, password.Error!.Code);
        Assert.Equal(AuthenticationContextClasses.MultiFactor, password.Error.AcrValues);
        Assert.True((await policy.EvaluateAsync(Request(amr: ["pwd", "mfa"]), default)).Allowed);
    }

    [Fact]
    public async Task Condition_AuthAge_TooOld_AsksForStepUpWithMaxAge()
    {
        var policy = Policy("""
            - { id: fresh, effect: allow, when: { maxAuthAgeMinutes: 60 } }
            """);
        var old = await policy.EvaluateAsync(Request(authAge: TimeSpan.FromHours(2)), default);
        Assert.Equal(ErrorCodes.InsufficientUserAuthentication, old.Error!.Code);
        Assert.Equal(3600, old.Error.MaxAge);
        Assert.True((await policy.EvaluateAsync(Request(authAge: TimeSpan.FromMinutes(5)), default)).Allowed);
    }

    [Fact]
    public async Task Condition_Acr_MustBeOneOfTheListed()
    {
        var policy = Policy("""
            - { id: acr, effect: allow, when: { acr: [urn:ema:acr:mfa] } }
            """);
        Assert.Equal(ErrorCodes.InsufficientUserAuthentication, (await policy.EvaluateAsync(Request(acr: AuthenticationContextClasses.Password), default)).Error!.Code);
        Assert.True((await policy.EvaluateAsync(Request(acr: AuthenticationContextClasses.MultiFactor), default)).Allowed);
    }

    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("::ffff:10.200.0.1", true)]
    [InlineData("192.168.1.1", false)]
    [InlineData(null, false)]
    public async Task Condition_Network_RequestMustComeFromAnAllowedCidr(string? address, bool allowed)
    {
        var policy = Policy("""
            - { id: office, effect: allow, when: { networks: [10.0.0.0/8, 2001:db8::/32] } }
            """);
        var decision = await policy.EvaluateAsync(Request(remote: address), default);
        Assert.Equal(allowed, decision.Allowed);
        if (!allowed)
        {
            Assert.Contains(decision.Explanation, e => e.Contains("outside the allowed networks", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData(0, true)] // Wednesday 10:00 UTC
    [InlineData(9, false)] // Wednesday 19:00
    [InlineData(72, false)] // Saturday 10:00
    public async Task Condition_Hours_OnlyInsideTheWindow(int hoursLater, bool allowed)
    {
        var policy = Policy("""
            - { id: office-hours, effect: allow, when: { hours: { days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00" } } }
            """);
        Assert.Equal(allowed, (await policy.EvaluateAsync(Request(now: Wednesday10.AddHours(hoursLater)), default)).Allowed);
    }

    [Theory]
    [InlineData("2026-01-14T07:30:00Z", true)] // Wednesday 08:30 in Berlin (CET, UTC+1)
    [InlineData("2026-01-14T17:30:00Z", false)] // 18:30 CET
    [InlineData("2026-07-15T06:30:00Z", true)] // Wednesday 08:30 in Berlin (CEST, UTC+2): the window follows daylight saving
    [InlineData("2026-07-15T16:30:00Z", false)] // 18:30 CEST, though 16:30 UTC is inside 08:00-18:00 UTC
    [InlineData("2026-07-15T06:00:00Z", true)] // 08:00 CEST exactly: from is inclusive
    public async Task Condition_Hours_InTheirTimeZone_FollowTheLocalClockAndItsDaylightSaving(string instant, bool allowed)
    {
        var policy = Policy("""
            - { id: berlin-office-hours, effect: allow, when: { hours: { days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00", timeZone: Europe/Berlin } } }
            """);
        var decision = await policy.EvaluateAsync(Request(now: DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture)), default);
        Assert.Equal(allowed, decision.Allowed);
        if (!allowed)
        {
            Assert.Contains(decision.Explanation, e => e.Contains("08:00–18:00 Europe/Berlin", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("2026-01-18T20:00:00Z", true)] // Sunday in UTC, Monday 09:00 in Auckland (NZDT, UTC+13)
    [InlineData("2026-01-16T20:00:00Z", false)] // Friday in UTC, Saturday 09:00 in Auckland
    public async Task Condition_Hours_InTheirTimeZone_CountTheLocalDay(string instant, bool allowed)
    {
        var policy = Policy("""
            - { id: auckland-office-days, effect: allow, when: { hours: { days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00", timeZone: Pacific/Auckland } } }
            """);
        Assert.Equal(allowed, (await policy.EvaluateAsync(Request(now: DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture)), default)).Allowed);
    }

    [Theory]
    [InlineData("2026-11-20T23:00:00Z", true)] // Friday 23:00: the night shift has started
    [InlineData("2026-11-21T05:00:00Z", true)] // Saturday 05:00: still Friday's night shift
    [InlineData("2026-11-21T06:00:00Z", false)] // Saturday 06:00: to is exclusive
    [InlineData("2026-11-20T05:00:00Z", false)] // Friday 05:00 belongs to Thursday's night, which is not listed
    [InlineData("2026-11-21T23:00:00Z", false)] // Saturday 23:00: Saturday is not listed
    public async Task Condition_Hours_PastMidnight_BelongToTheDayTheWindowStarted(string instant, bool allowed)
    {
        var policy = Policy("""
            - { id: friday-night-shift, effect: allow, when: { hours: { days: [fri], from: "22:00", to: "06:00" } } }
            """);
        var decision = await policy.EvaluateAsync(Request(now: DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture)), default);
        Assert.Equal(allowed, decision.Allowed);
    }

    [Fact]
    public void PolicyYaml_UnknownTimeZone_IsRejectedWithItsLine_NotTakenAsUtc()
    {
        var (document, errors) = PolicyYaml.Parse("""
            version: 1
            default: deny
            rules:
              - id: office
                effect: allow
                when:
                  hours:
                    from: "08:00"
                    to: "18:00"
                    timeZone: Europe/Atlantis
            """);
        Assert.Null(document);
        var error = Assert.Single(errors);
        Assert.Equal(10, error.Line);
        Assert.Contains("'Europe/Atlantis' is not a time zone", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("subjects: { users: [] }", "'users' is an empty list")]
    [InlineData("subjects: {}", "'subjects' names no one")]
    [InlineData("scopes: []", "'scopes' is an empty list")]
    [InlineData("clients: []", "'clients' is an empty list")]
    [InlineData("resources: []", "'resources' is an empty list")]
    [InlineData("when: { hours: { days: [], from: \"08:00\", to: \"18:00\" } }", "'days' is an empty list")]
    public void PolicyYaml_EmptyList_IsRejected_NotReadAsAnyone(string field, string message)
    {
        // Omitted means any; an empty list would mean the same, so a rule whose last name was removed would widen to
        // everyone (users: []) or everything (scopes: []).
        var (document, errors) = PolicyYaml.Parse($"version: 1\ndefault: deny\nrules:\n  - {{ id: narrowed-to-nobody, effect: allow, {field} }}\n");
        Assert.Null(document);
        Assert.Contains(message, Assert.Single(errors).Message, StringComparison.Ordinal);
        Assert.Equal(4, errors[0].Line);
    }

    [Theory]
    [InlineData("!!str subjects: { users: [usr-bob] }")]
    [InlineData("subjects: !!map { users: [usr-bob] }")]
    [InlineData("when: { !!str mfa: true }")]
    public void PolicyYaml_Tags_AreRejected_SoNoKeyPassesValidationAndIsThenIgnored(string field)
    {
        // "!!str subjects" passed the key check but was not found by the lookup: the rule applied to everyone.
        var (document, errors) = PolicyYaml.Parse($"version: 1\ndefault: deny\nrules:\n  - id: bob-only\n    effect: allow\n    {field}\n");
        Assert.Null(document);
        Assert.Contains("YAML tags", Assert.Single(errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.1.2.3", false)]
    [InlineData("::ffff:10.1.2.3", false)] // IPv4-mapped request address
    [InlineData("192.168.0.1", true)]
    public async Task Condition_Network_IPv4MappedNetworkInTheRule_MatchesAsIPv4(string address, bool allowed)
    {
        var policy = Policy("""
            - { id: everyone, effect: allow }
            - { id: no-lab, effect: deny, when: { networks: ["::ffff:10.0.0.0/104"] } }
            """);
        Assert.Equal(allowed, (await policy.EvaluateAsync(Request(remote: address), default)).Allowed);
    }

    [Fact]
    public async Task DenyRule_NamingTheResourceWithATrailingSlash_StillDenies()
    {
        var policy = Policy("""
            - { id: everyone, effect: allow }
            - { id: no-tickets-for-bob, effect: deny, subjects: { users: [usr-bob] }, resources: ["https://mcp.example/tickets/"] }
            """);
        Assert.False((await policy.EvaluateAsync(Request(user: "usr-bob"), default)).Allowed);
        Assert.True((await policy.EvaluateAsync(Request(user: "usr-alice"), default)).Allowed);
    }

    [Theory]
    [InlineData("hours: { from: \"00:00\", to: \"00:00\" }", "'from' and 'to' are the same time")] // matched nothing before
    [InlineData("hours: []", "'hours' must be a mapping")]
    [InlineData("hours: \"08:00-18:00\"", "'hours' must be a mapping")]
    [InlineData("hours: ~", "'hours' must be a mapping")]
    [InlineData("hours: { from: \"08:00\", to: \"18:00\", timeZone: localtime }", "is not a time zone")] // the host's own zone
    [InlineData("hours: { from: \"08:00\", to: \"18:00\", timeZone: \"W. Europe Standard Time\" }", "is not a time zone")]
    public void PolicyYaml_AHoursConditionThatCouldBeReadWrongly_IsRejected_NotDropped(string hours, string message)
    {
        // Dropped, it would lift the rule's time limit; read against the host's zone, it would decide differently elsewhere.
        var (document, errors) = PolicyYaml.Parse($"version: 1\ndefault: deny\nrules:\n  - {{ id: office, effect: allow, when: {{ {hours} }} }}\n");
        Assert.Null(document);
        Assert.Contains(message, Assert.Single(errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Condition_AuthAge_ASignInTimeInTheFuture_IsNoRecentSignIn()
    {
        var policy = Policy("""
            - { id: fresh-only, effect: allow, when: { maxAuthAgeMinutes: 10 } }
            """);
        Assert.True((await policy.EvaluateAsync(Request(authAge: TimeSpan.FromMinutes(2)), default)).Allowed);
        Assert.False((await policy.EvaluateAsync(Request(authAge: TimeSpan.FromHours(-5)), default)).Allowed); // auth_time 5 h ahead
    }

    [Fact]
    public async Task Condition_UserAttributes_DepartmentAndStatus()
    {
        var policy = Policy("""
            - { id: engineering-only, effect: allow, when: { department: [Engineering], status: [active] } }
            """);
        Assert.True((await policy.EvaluateAsync(Request(department: "Engineering"), default)).Allowed);
        var finance = await policy.EvaluateAsync(Request(department: "Finance"), default);
        Assert.False(finance.Allowed);
        Assert.Contains(finance.Explanation, e => e.Contains("department Finance", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HighRiskScope_NeedsRecentMfa_StepUpWhenAsked_LeftOutWhenImplied()
    {
        var policy = Policy("""
            - { id: finance-ledger, effect: allow, subjects: { groups: [grp-finance] }, resources: [res-ledger] }
            """);
        var asked = await policy.EvaluateAsync(Request(groups: ["grp-finance"], resource: Ledger, scopes: ["ledger.read", "ledger.write"]), default);
        Assert.Equal(ErrorCodes.InsufficientUserAuthentication, asked.Error!.Code);
        Assert.Equal(900, asked.Error.MaxAge);
        Assert.Equal(AuthenticationContextClasses.MultiFactor, asked.Error.AcrValues);

        var implied = await policy.EvaluateAsync(Request(groups: ["grp-finance"], resource: Ledger), default);
        Assert.Equal(["ledger.read"], implied.GrantedScopes); // least privilege

        var stepped = await policy.EvaluateAsync(Request(groups: ["grp-finance"], resource: Ledger, scopes: ["ledger.write"], amr: ["pwd", "mfa"], authAge: TimeSpan.FromMinutes(2)), default);
        Assert.Equal(["ledger.write"], stepped.GrantedScopes);
    }

    [Fact]
    public async Task GrantedScopes_AreTheIntersectionOfRulesRequestAndResource()
    {
        var policy = Policy("""
            - { id: read, effect: allow, scopes: [tickets.read, not.defined.here] }
            """);
        var decision = await policy.EvaluateAsync(Request(), default); // no scope requested: everything allowed and defined
        Assert.Equal(["tickets.read"], decision.GrantedScopes);
    }

    [Fact]
    public void PolicyYaml_Invalid_IsRejectedWithLineNumbers_AndNothingIsApplied()
    {
        var (document, errors) = PolicyYaml.Parse("""
            version: 1
            default: deny
            rules:
              - id: a
                effect: permit
              - id: b
                effect: allow
                when:
                  networks: [10.0.0.0/33]
                  hours: { days: [someday], from: "8am", to: "18:00" }
                colour: blue
              - id: a
                effect: deny
            """);
        Assert.Null(document);
        Assert.True(errors.Count >= 5, string.Join(" | ", errors));
        Assert.Contains(errors, e => e.Line == 5 && e.Message.Contains("allow or deny", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Line == 9 && e.Message.Contains("CIDR", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Line == 10 && e.Message.Contains("someday", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Line == 11 && e.Message.Contains("unknown key 'colour'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Line == 12 && e.Message.Contains("used twice", StringComparison.Ordinal));
    }

    [Fact]
    public void PolicyYaml_DeeplyNestedDocument_IsRejectedBeforeLoading_WithoutOverflowingTheStack()
    {
        // The tree loader recurses once per level: 200,000 levels would overflow the stack and end the process.
        var (document, errors) = PolicyYaml.Parse("version: 1\ndefault: deny\nrules: " + new string('[', 200_000));
        Assert.Null(document);
        Assert.Contains("nested more than 32 levels", Assert.Single(errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PolicyYaml_AnchorsAndAliases_AreRejected_SoASmallDocumentCannotExpand()
    {
        var aliasBomb = "version: 1\ndefault: deny\nrules:\n  - &r { id: x, effect: allow, subjects: { users: &u [a, a, a] } }\n" + string.Concat(Enumerable.Repeat("  - *r\n", 1000));
        var (document, errors) = PolicyYaml.Parse(aliasBomb);
        Assert.Null(document);
        var error = Assert.Single(errors);
        Assert.Equal(4, error.Line);
        Assert.Contains("anchors", error.Message, StringComparison.Ordinal);
        Assert.Contains("aliases", Assert.Single(PolicyYaml.Parse("version: 1\ndefault: deny\nrules: *nothing\n").Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PolicyYaml_LargerThanTheLimit_IsRejected()
    {
        var (document, errors) = PolicyYaml.Parse("version: 1\ndefault: deny\nrules: []\n# " + new string('x', PolicyYaml.MaxLength));
        Assert.Null(document);
        Assert.Contains("larger than", Assert.Single(errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("version: 1\nrules: []\n", "default: deny")]
    [InlineData("version: 2\ndefault: deny\nrules: []\n", "version: 1")]
    [InlineData("version: 1\ndefault: deny\nrules: [\n", "not valid YAML")]
    public void PolicyYaml_MissingExplicitDefaultOrVersionOrSyntax_IsRejected(string yaml, string message)
    {
        var (document, errors) = PolicyYaml.Parse(yaml);
        Assert.Null(document);
        Assert.Contains(errors, e => e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RoleSubjects_GrantByRole_InDecisionsAndInTheCatalog()
    {
        var yaml = "version: 1\ndefault: deny\nrules:\n  - { id: managers-ledger, effect: allow, subjects: { roles: [manager] }, resources: [res-ledger], scopes: [ledger.read] }\n";
        var policy = new RulePolicy(PolicyYaml.Parse(yaml).Document!, new Ema.Testing.FixedResourceStore([Tickets, Ledger]));
        Assert.Equal(["ledger.read"], (await policy.EvaluateAsync(Request(resource: Ledger, roles: ["manager"]), default)).GrantedScopes);
        Assert.False((await policy.EvaluateAsync(Request(resource: Ledger, roles: ["auditor"]), default)).Allowed);

        var client = Request().Client;
        var user = Request().User;
        var catalog = await policy.ListEntitledAsync(user, [], ["manager"], client, default);
        Assert.Equal("res-ledger", Assert.Single(catalog).Resource.Id); // the catalog sees roles too
        Assert.Equal(["ledger.read"], catalog[0].Scopes);
        Assert.Empty(await policy.ListEntitledAsync(user, [], [], client, default));
    }

    [Fact]
    public async Task Catalog_OffersNothingTheExchangeWouldRefuse_DisabledUserClientOrResource_AndAnEmptyWhenIsUnconditional()
    {
        var yaml = "version: 1\ndefault: deny\nrules:\n  - { id: all, effect: allow }\n  - { id: no-ledger, effect: deny, resources: [res-ledger], when: {} }\n";
        var disabledTickets = Tickets with { Enabled = false };
        var policy = new RulePolicy(PolicyYaml.Parse(yaml).Document!, new Ema.Testing.FixedResourceStore([Tickets, Ledger]));
        var client = Request().Client;
        var user = Request().User;
        Assert.Equal("res-tickets", Assert.Single(await policy.ListEntitledAsync(user, [], [], client, default)).Resource.Id); // when: {} denies like no when
        Assert.Empty(await policy.ListEntitledAsync(user with { Status = UserStatus.Disabled }, [], [], client, default));
        Assert.Empty(await policy.ListEntitledAsync(user, [], [], client with { Enabled = false }, default));
        var withDisabled = new RulePolicy(PolicyYaml.Parse(yaml).Document!, new Ema.Testing.FixedResourceStore([disabledTickets, Ledger]));
        Assert.Empty(await withDisabled.ListEntitledAsync(user, [], [], client, default));
    }

    private static RulePolicy Policy(string rules)
    {
        var yaml = "version: 1\ndefault: deny\nrules:\n" + string.Join('\n', rules.Split('\n').Select(l => "  " + l));
        var (document, errors) = PolicyYaml.Parse(yaml);
        Assert.True(errors.Count == 0, string.Join("; ", errors));
        return new RulePolicy(document!, null!);
    }

    private static AccessRequest Request(string user = "usr-alice", string[]? groups = null, ResourceApplication? resource = null, string[]? scopes = null, string[]? amr = null, TimeSpan? authAge = null, string? acr = null, string? remote = "10.0.0.1", DateTimeOffset? now = null, string? department = "Engineering", string[]? roles = null)
    {
        var at = now ?? Wednesday10;
        return new AccessRequest
        {
            User = new User(user, user, user, null, UserStatus.Active, department),
            GroupIds = groups ?? [],
            Roles = roles ?? [],
            Client = new ClientApplication { ClientId = "ema-agent", Name = "Ema Agent", AuthenticationMethod = ClientAuthenticationMethods.ClientSecretBasic },
            Resource = resource ?? Tickets,
            RequestedScopes = scopes ?? [],
            Authentication = new AuthenticationContext(at - (authAge ?? TimeSpan.FromMinutes(1)), amr ?? ["pwd"], acr),
            RemoteAddress = remote,
            Now = at,
        };
    }
}
