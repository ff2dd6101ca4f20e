using System.Globalization;
using System.Net;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Ema.Server.Policy;

/// <summary>A policy file problem, with its line (1-based).</summary>
public sealed record PolicyError(int Line, string Message)
{
    public override string ToString() => $"line {Line}: {Message}";
}

/// <summary>
/// Policy as code: reads the YAML form of <see cref="PolicyDocument"/> strictly — unknown keys, wrong types, bad
/// CIDRs, times or days are errors with their line — and returns either a whole document or the list of errors, never
/// half a policy.
/// </summary>
public static partial class PolicyYaml
{
    /// <summary>
    /// Checks the document's shape with the event parser (no tree, no recursion) before it is loaded: the size, the
    /// nesting depth (the tree loader recurses once per level: a deep document would overflow the stack and end the
    /// process), and no anchors or aliases (an alias repeats a list without its size showing in the text: a small
    /// document could expand into billions of entries). A policy needs none of these.
    /// </summary>
    private static PolicyError? CheckShape(string yaml)
    {
        if (yaml.Length > MaxLength)
        {
            return new PolicyError(1, $"the policy is larger than {MaxLength:N0} characters");
        }

        var parser = new Parser(new StringReader(yaml));
        var depth = 0;
        try
        {
            while (parser.MoveNext())
            {
                var current = parser.Current!;
                var line = (int)current.Start.Line;
                if (current is AnchorAlias)
                {
                    return new PolicyError(line, "YAML aliases (*name) are not allowed in a policy: write the list out");
                }

                if (current is NodeEvent { Anchor.IsEmpty: false })
                {
                    return new PolicyError(line, "YAML anchors (&name) are not allowed in a policy");
                }

                // A tag changes how a node compares without changing how it reads: "!!str subjects" passed the key check
                // yet was never found by the lookup, so a rule's subjects or conditions were silently dropped.
                if (current is NodeEvent { Tag.IsEmpty: false })
                {
                    return new PolicyError(line, "YAML tags (!!str, !name) are not allowed in a policy");
                }

                if (current is MappingStart or SequenceStart && ++depth > MaxDepth)
                {
                    return new PolicyError(line, $"lists and mappings are nested more than {MaxDepth} levels deep");
                }

                if (current is MappingEnd or SequenceEnd)
                {
                    depth--;
                }
            }
        }
        catch (YamlException ex)
        {
            return new PolicyError((int)ex.Start.Line, "not valid YAML: " + ex.Message.Split(": ", 2)[^1]);
        }

        return null;
    }

    private static readonly string[] RuleKeys = ["id", "description", "effect", "priority", "subjects", "clients", "resources", "scopes", "when"];
    private static readonly string[] ConditionKeys = ["mfa", "maxAuthAgeMinutes", "acr", "networks", "hours", "department", "status"];

    /// <summary>The largest policy document read, in characters: 1,000 rules take about 200 KB.</summary>
    public const int MaxLength = 2 * 1024 * 1024;

    /// <summary>How deep mappings and lists may nest (a policy needs 5).</summary>
    private const int MaxDepth = 32;

    // "UTC" or an IANA Area/Location id: not "localtime", "posixrules" or Windows names, which mean different things on
    // different hosts (a policy moved to another host must decide alike, or not at all).
    [System.Text.RegularExpressions.GeneratedRegex("^(UTC|[A-Z][A-Za-z]+(/[A-Za-z0-9_+-]+){1,2})$")]
    private static partial System.Text.RegularExpressions.Regex ZonePattern();

    public static (PolicyDocument? Document, IReadOnlyList<PolicyError> Errors) Parse(string yaml)
    {
        yaml ??= string.Empty;
        if (CheckShape(yaml) is { } shape)
        {
            return (null, [shape]);
        }

        var errors = new List<PolicyError>();
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            return (null, [new PolicyError((int)ex.Start.Line, "not valid YAML: " + ex.Message.Split(": ", 2)[^1])]);
        }

        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            return (null, [new PolicyError(1, "the policy must be one YAML mapping with 'version', 'default' and 'rules'")]);
        }

        CheckKeys(root, ["version", "default", "highRiskMfaMaxAgeMinutes", "rules"], errors);
        if (Scalar(root, "version", errors) != "1")
        {
            errors.Add(new PolicyError(Line(root, "version"), "'version: 1' is required"));
        }

        if (Scalar(root, "default", errors) != "deny")
        {
            errors.Add(new PolicyError(Line(root, "default"), "'default: deny' is required (an explicit default; allow-by-default is not offered)"));
        }

        var highRisk = TimeSpan.FromMinutes(15);
        if (Scalar(root, "highRiskMfaMaxAgeMinutes", errors) is { } minutes)
        {
            highRisk = PositiveMinutes(minutes, Line(root, "highRiskMfaMaxAgeMinutes"), errors) ?? highRisk;
        }

        var rules = new List<PolicyRule>();
        if (Child(root, "rules") is not YamlSequenceNode sequence)
        {
            errors.Add(new PolicyError((int)root.Start.Line, "'rules' must be a list"));
        }
        else
        {
            var ids = new HashSet<string>(StringComparer.Ordinal);
            foreach (var node in sequence.Children)
            {
                if (node is not YamlMappingNode rule)
                {
                    errors.Add(new PolicyError((int)node.Start.Line, "a rule must be a mapping"));
                    continue;
                }

                if (Child(rule, "id") is YamlScalarNode { Value: { Length: > 0 } id } && !ids.Add(id))
                {
                    errors.Add(new PolicyError((int)rule.Start.Line, $"rule id '{id}' is used twice"));
                }

                if (ParseRule(rule, errors) is { } parsed)
                {
                    rules.Add(parsed);
                }
            }
        }

        return errors.Count > 0 ? (null, errors.OrderBy(e => e.Line).ToList()) : (new PolicyDocument { Rules = rules, HighRiskMfaMaxAge = highRisk }, []);
    }

    private static PolicyRule? ParseRule(YamlMappingNode rule, List<PolicyError> errors)
    {
        var before = errors.Count;
        var line = (int)rule.Start.Line;
        CheckKeys(rule, RuleKeys, errors);
        var id = Scalar(rule, "id", errors);
        if (string.IsNullOrWhiteSpace(id))
        {
            errors.Add(new PolicyError(line, "a rule needs an 'id'"));
        }

        var effect = Scalar(rule, "effect", errors) switch
        {
            "allow" => PolicyEffect.Allow,
            "deny" => PolicyEffect.Deny,
            var other => Fail(PolicyEffect.Deny, new PolicyError(Line(rule, "effect", line), $"'effect' must be allow or deny (got '{other}')"), errors),
        };
        var priority = 0;
        if (Scalar(rule, "priority", errors) is { } p && !int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out priority))
        {
            errors.Add(new PolicyError(Line(rule, "priority"), $"'priority' must be an integer (got '{p}')"));
        }

        var subjects = PolicySubjects.Everyone;
        if (Child(rule, "subjects") is { } subjectNode)
        {
            if (subjectNode is YamlMappingNode map)
            {
                CheckKeys(map, ["users", "groups", "roles"], errors);
                subjects = new PolicySubjects(List(map, "users", errors), List(map, "groups", errors), List(map, "roles", errors));
                if (map.Children.Count == 0)
                {
                    // Omitted subjects mean everyone; an empty mapping is more likely a template whose names ran out.
                    errors.Add(new PolicyError((int)map.Start.Line, "'subjects' names no one: omit it to mean everyone, or list users, groups or roles"));
                }
            }
            else
            {
                errors.Add(new PolicyError((int)subjectNode.Start.Line, "'subjects' must be a mapping of users, groups and roles"));
            }
        }

        var when = PolicyConditions.None;
        if (Child(rule, "when") is { } whenNode)
        {
            when = whenNode is YamlMappingNode conditions ? ParseConditions(conditions, errors) : Fail(PolicyConditions.None, new PolicyError((int)whenNode.Start.Line, "'when' must be a mapping"), errors);
        }

        return errors.Count > before ? null : new PolicyRule
        {
            Id = id!, Description = Scalar(rule, "description", errors), Effect = effect, Priority = priority, Subjects = subjects,
            Clients = List(rule, "clients", errors), Resources = List(rule, "resources", errors), Scopes = List(rule, "scopes", errors), When = when, Line = line,
        };
    }

    private static PolicyConditions ParseConditions(YamlMappingNode node, List<PolicyError> errors)
    {
        CheckKeys(node, ConditionKeys, errors);
        var mfa = Scalar(node, "mfa", errors) switch
        {
            null or "false" => false,
            "true" => true,
            var other => Fail(false, new PolicyError(Line(node, "mfa"), $"'mfa' must be true or false (got '{other}')"), errors),
        };
        var maxAge = Scalar(node, "maxAuthAgeMinutes", errors) is { } m ? PositiveMinutes(m, Line(node, "maxAuthAgeMinutes"), errors) : null;
        var networks = new List<(IPAddress, int)>();
        foreach (var cidr in List(node, "networks", errors))
        {
            var parts = cidr.Split('/');
            if (parts.Length == 2 && IPAddress.TryParse(parts[0], out var address) && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix)
                && prefix <= (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128))
            {
                if (address.IsIPv4MappedToIPv6)
                {
                    // Request addresses are compared as IPv4 when mapped (::ffff:a.b.c.d), so the network must be too.
                    if (prefix < 96)
                    {
                        errors.Add(new PolicyError(Line(node, "networks"), $"'{cidr}' mixes IPv4-mapped and other IPv6 addresses: write the IPv4 network, e.g. 192.168.0.0/16"));
                        continue;
                    }

                    (address, prefix) = (address.MapToIPv4(), prefix - 96);
                }

                networks.Add((address, prefix));
            }
            else
            {
                errors.Add(new PolicyError(Line(node, "networks"), $"'{cidr}' is not a CIDR block such as 10.0.0.0/8"));
            }
        }

        TimeWindow? hours = null;
        var hoursNode = Child(node, "hours");
        if (hoursNode is not null and not YamlMappingNode)
        {
            // Dropping it would lift the rule's time limit (an office-hours allow rule, always on).
            errors.Add(new PolicyError((int)hoursNode.Start.Line, "'hours' must be a mapping of days, from, to and timeZone"));
        }
        else if (hoursNode is YamlMappingNode window)
        {
            CheckKeys(window, ["days", "from", "to", "timeZone"], errors);
            var zone = TimeZoneInfo.Utc;
            if (Scalar(window, "timeZone", errors) is { } zoneId)
            {
                // IANA ids (Europe/Berlin) from the system's time zone database; a window is local time, so a
                // misspelt zone must stop the import rather than quietly mean UTC.
                if (zoneId.Length > 64 || !ZonePattern().IsMatch(zoneId) || !TimeZoneInfo.TryFindSystemTimeZoneById(zoneId, out var found))
                {
                    errors.Add(new PolicyError(Line(window, "timeZone"), $"'{(zoneId.Length > 64 ? zoneId[..64] + "…" : zoneId)}' is not a time zone such as Europe/Berlin or America/New_York"));
                }
                else
                {
                    zone = found;
                }
            }

            var days = new List<DayOfWeek>();
            foreach (var day in List(window, "days", errors))
            {
                var index = Array.IndexOf(["sun", "mon", "tue", "wed", "thu", "fri", "sat"], day.ToLowerInvariant());
                if (index < 0)
                {
                    errors.Add(new PolicyError(Line(window, "days"), $"'{day}' is not a day (mon, tue, wed, thu, fri, sat, sun)"));
                }
                else
                {
                    days.Add((DayOfWeek)index);
                }
            }

            var from = Time(window, "from", errors);
            var to = Time(window, "to", errors);
            if (from is not null && to is not null && from == to)
            {
                errors.Add(new PolicyError(Line(window, "from"), "'from' and 'to' are the same time: omit 'hours' for the whole day"));
            }
            else if (from is not null && to is not null)
            {
                hours = new TimeWindow(days.Count == 0 ? Enum.GetValues<DayOfWeek>() : days, from.Value, to.Value) { TimeZone = zone };
            }
        }

        return new PolicyConditions
        {
            RequireMfa = mfa, MaxAuthAge = maxAge, Acr = List(node, "acr", errors), Networks = networks, Hours = hours,
            Departments = List(node, "department", errors), Statuses = List(node, "status", errors),
        };
    }

    private static TimeOnly? Time(YamlMappingNode node, string key, List<PolicyError> errors)
    {
        var text = Scalar(node, key, errors);
        if (text is not null && TimeOnly.TryParseExact(text, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            return time;
        }

        errors.Add(new PolicyError(Line(node, key, (int)node.Start.Line), $"'{key}' must be a time such as 08:00"));
        return null;
    }

    private static TimeSpan? PositiveMinutes(string text, int line, List<PolicyError> errors)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var minutes) && minutes > 0)
        {
            return TimeSpan.FromMinutes(minutes);
        }

        errors.Add(new PolicyError(line, $"'{text}' is not a positive number of minutes"));
        return null;
    }

    private static void CheckKeys(YamlMappingNode node, string[] allowed, List<PolicyError> errors)
    {
        foreach (var key in node.Children.Keys)
        {
            if (key is not YamlScalarNode { Value: { } name } || !allowed.Contains(name, StringComparer.Ordinal))
            {
                errors.Add(new PolicyError((int)key.Start.Line, $"unknown key '{(key as YamlScalarNode)?.Value}' (expected one of: {string.Join(", ", allowed)})"));
            }
        }
    }

    private static YamlNode? Child(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static int Line(YamlMappingNode node, string key, int fallback = 0) =>
        node.Children.Keys.FirstOrDefault(k => k is YamlScalarNode { Value: var v } && v == key) is { } found ? (int)found.Start.Line : fallback == 0 ? (int)node.Start.Line : fallback;

    private static string? Scalar(YamlMappingNode node, string key, List<PolicyError> errors)
    {
        switch (Child(node, key))
        {
            case null:
                return null;
            case YamlScalarNode scalar:
                return scalar.Value;
            case var other:
                errors.Add(new PolicyError((int)other.Start.Line, $"'{key}' must be a single value"));
                return null;
        }
    }

    private static IReadOnlyList<string> List(YamlMappingNode node, string key, List<PolicyError> errors)
    {
        switch (Child(node, key))
        {
            case null:
                return [];
            case YamlSequenceNode { Children.Count: 0 } empty:
                // An omitted list means "any"; an empty one would mean the same and widen a rule whose last name was
                // removed (users: [] would be everyone), so it is refused rather than guessed at.
                errors.Add(new PolicyError((int)empty.Start.Line, $"'{key}' is an empty list: omit '{key}' to mean any, or name at least one"));
                return [];
            case YamlSequenceNode sequence when sequence.Children.All(c => c is YamlScalarNode { Value.Length: > 0 }):
                return [.. sequence.Children.Cast<YamlScalarNode>().Select(s => s.Value!)];
            case var other:
                errors.Add(new PolicyError((int)other.Start.Line, $"'{key}' must be a list of values, e.g. [a, b]"));
                return [];
        }
    }

    private static T Fail<T>(T value, PolicyError error, List<PolicyError> errors)
    {
        errors.Add(error);
        return value;
    }
}
