using System.Net;

namespace Ema.Server.Policy;

/// <summary>Allow or deny; deny overrides allow.</summary>
public enum PolicyEffect
{
    Allow,
    Deny,
}

/// <summary>Whom a rule is about: any listed user, group or role (empty lists: everyone).</summary>
public sealed record PolicySubjects(IReadOnlyList<string> Users, IReadOnlyList<string> Groups, IReadOnlyList<string> Roles)
{
    public static PolicySubjects Everyone { get; } = new([], [], []);

    public bool IsEveryone => Users.Count == 0 && Groups.Count == 0 && Roles.Count == 0;
}

/// <summary>
/// A time window on the wall clock of <see cref="TimeZone"/> (UTC unless the policy names an IANA zone, so office hours
/// follow daylight saving time): on these days, from..to, to exclusive. A window with from &gt; to runs past midnight,
/// and its hours after midnight belong to the day it started on — "fri 22:00–06:00" includes Saturday 05:00, not
/// Friday 05:00. From = to is refused by the parser (it matched nothing before; "all day" is no window at all).
/// </summary>
public sealed record TimeWindow(IReadOnlyList<DayOfWeek> Days, TimeOnly From, TimeOnly To)
{
    /// <summary>The zone whose local time the window is in.</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>Whether <paramref name="instant"/> falls inside the window.</summary>
    public bool Contains(DateTimeOffset instant)
    {
        var local = TimeZoneInfo.ConvertTime(instant, TimeZone).DateTime;
        var time = TimeOnly.FromDateTime(local);
        if (From < To)
        {
            return time >= From && time < To && Days.Contains(local.DayOfWeek);
        }

        // Past midnight: the part before midnight is on the listed day, the part after it on the next day.
        return (time >= From && Days.Contains(local.DayOfWeek))
            || (time < To && Days.Contains(local.AddDays(-1).DayOfWeek));
    }

    /// <summary>The window as an explanation shows it, e.g. "08:00–18:00 Europe/Berlin, Monday,Tuesday".</summary>
    public string Describe() => $"{From:HH\\:mm}–{To:HH\\:mm} {(TimeZone == TimeZoneInfo.Utc ? "UTC" : TimeZone.Id)}, {string.Join(',', Days)}";
}

/// <summary>Conditions of a rule; a rule applies only when all of them hold.</summary>
public sealed record PolicyConditions
{
    /// <summary><c>amr</c> must include <c>mfa</c>.</summary>
    public bool RequireMfa { get; init; }

    /// <summary><c>auth_time</c> no older than this.</summary>
    public TimeSpan? MaxAuthAge { get; init; }

    /// <summary><c>acr</c> must be one of these.</summary>
    public IReadOnlyList<string> Acr { get; init; } = [];

    /// <summary>The token-exchange request must come from one of these networks.</summary>
    public IReadOnlyList<(IPAddress Network, int PrefixLength)> Networks { get; init; } = [];

    public TimeWindow? Hours { get; init; }

    /// <summary>User attribute: department is one of these.</summary>
    public IReadOnlyList<string> Departments { get; init; } = [];

    /// <summary>User attribute: employment status (the account status) is one of these.</summary>
    public IReadOnlyList<string> Statuses { get; init; } = [];

    public static PolicyConditions None { get; } = new();

    /// <summary>Whether no condition is set (<c>when: {}</c> as well as no <c>when</c>).</summary>
    public bool IsEmpty => !RequireMfa && MaxAuthAge is null && Acr.Count == 0 && Networks.Count == 0 && Hours is null && Departments.Count == 0 && Statuses.Count == 0;
}

/// <summary>One rule: who (subjects), through which clients, to which resources and scopes, under which conditions.</summary>
public sealed record PolicyRule
{
    public required string Id { get; init; }

    public string? Description { get; init; }

    public required PolicyEffect Effect { get; init; }

    /// <summary>Higher first, for explanations; deny overrides allow whatever the priorities.</summary>
    public int Priority { get; init; }

    public PolicySubjects Subjects { get; init; } = PolicySubjects.Everyone;

    /// <summary>Client ids (empty: any client).</summary>
    public IReadOnlyList<string> Clients { get; init; } = [];

    /// <summary>Resource application ids or resource identifiers (empty: any resource).</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary>Scopes allowed or denied (empty: all the resource defines).</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    public PolicyConditions When { get; init; } = PolicyConditions.None;

    /// <summary>Line of the rule in its YAML file, for explanations and errors.</summary>
    public int Line { get; init; }
}

/// <summary>The whole policy: rules, the explicit default (deny), and the step-up rule for high-risk scopes.</summary>
public sealed record PolicyDocument
{
    public IReadOnlyList<PolicyRule> Rules { get; init; } = [];

    /// <summary>Always deny when no rule allows (the file must say so: an explicit default).</summary>
    public PolicyEffect Default { get; init; } = PolicyEffect.Deny;

    /// <summary>High-risk scopes need MFA no older than this; otherwise the IdP asks for a step-up.</summary>
    public TimeSpan HighRiskMfaMaxAge { get; init; } = TimeSpan.FromMinutes(15);
}
