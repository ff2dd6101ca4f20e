using Ema.Server.Stores;

namespace Ema.Server.Policy;

/// <summary>
/// Warnings, not errors, for a valid policy: the users, groups, clients and resources its rules name that do not exist
/// (yet), and what a time window past midnight covers. Names are matched exactly — a typo or a different case in a deny
/// rule denies nothing, silently — so an import or a validation says which names match nothing, and the likely intended
/// one when only the case differs. Roles are labels on users with no list of their own: a role is unknown when no user
/// holds it (yet) — worth a warning all the same, since a deny rule naming it denies nobody today.
/// </summary>
public static class PolicyReferences
{
    public static async Task<IReadOnlyList<PolicyError>> FindUnknownAsync(PolicyDocument document, IDirectoryStore directory, IApplicationStore applications, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(applications);
        var allGroups = await directory.ListGroupsAsync(cancellationToken).ConfigureAwait(false);
        var groups = allGroups.Select(g => g.Id).ToList();
        var resources = (await applications.ListResourcesAsync(cancellationToken).ConfigureAwait(false)).SelectMany(r => new[] { r.Id, PolicyResourceName.Key(r.Resource) }).ToList();
        var roles = await directory.ListRolesAsync(cancellationToken).ConfigureAwait(false);
        var users = new Dictionary<string, bool>(StringComparer.Ordinal);
        var clients = new Dictionary<string, bool>(StringComparer.Ordinal);
        var warnings = new List<PolicyError>();
        foreach (var rule in document.Rules)
        {
            var consequence = rule.Effect == PolicyEffect.Deny ? "this deny rule denies nothing for it" : "this rule grants nothing through it";
            void Warn(string kind, string name, string? hint) =>
                warnings.Add(new PolicyError(rule.Line, $"rule '{rule.Id}' names {kind} '{name}', which does not exist{hint}: {consequence}"));

            foreach (var user in rule.Subjects.Users.Distinct(StringComparer.Ordinal))
            {
                if (!users.TryGetValue(user, out var known))
                {
                    users[user] = known = await directory.FindUserAsync(user, cancellationToken).ConfigureAwait(false) is not null;
                }

                if (!known)
                {
                    var byName = await directory.FindUserByUsernameAsync(user, cancellationToken).ConfigureAwait(false);
                    Warn("the user", user, byName is null ? null : $" (rules name users by id: '{byName.Id}' is {byName.Username})");
                }
            }

            foreach (var group in rule.Subjects.Groups.Where(g => !groups.Contains(g, StringComparer.Ordinal)).Distinct(StringComparer.Ordinal))
            {
                Warn("the group", group, allGroups.FirstOrDefault(g => string.Equals(g.Name, group, StringComparison.OrdinalIgnoreCase)) is { } named
                    ? $" (rules name groups by id: '{named.Id}' is {named.Name})"
                    : Hint(group, groups));
            }

            foreach (var role in rule.Subjects.Roles.Where(r => !roles.Contains(r, StringComparer.Ordinal)).Distinct(StringComparer.Ordinal))
            {
                warnings.Add(new PolicyError(rule.Line, $"rule '{rule.Id}' names the role '{role}', which no user holds{Hint(role, roles)}: {consequence} until a user has it"));
            }

            foreach (var client in rule.Clients.Distinct(StringComparer.Ordinal))
            {
                if (!clients.TryGetValue(client, out var known))
                {
                    clients[client] = known = await applications.FindClientAsync(client, cancellationToken).ConfigureAwait(false) is not null;
                }

                if (!known)
                {
                    Warn("the client", client, null);
                }
            }

            foreach (var resource in rule.Resources.Where(r => !resources.Contains(PolicyResourceName.Key(r), StringComparer.Ordinal)).Distinct(StringComparer.Ordinal))
            {
                Warn("the resource", resource, Hint(PolicyResourceName.Key(resource), resources));
            }
        }

        // Windows past midnight with chosen days: their hours after midnight belong to the day the window started (since
        // this release; before, to the day they fell on), so say what the rule covers.
        foreach (var rule in document.Rules.Where(r => r.When.Hours is { } h && h.From > h.To && h.Days.Count < 7))
        {
            var h = rule.When.Hours!;
            var days = string.Join(", ", h.Days);
            warnings.Add(new PolicyError(rule.Line, $"rule '{rule.Id}': hours {h.From:HH\\:mm}–{h.To:HH\\:mm} run past midnight: they cover {days} from {h.From:HH\\:mm} until {h.To:HH\\:mm} the next morning"));
        }

        return warnings;
    }

    private static string? Hint(string name, IEnumerable<string> known) =>
        known.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) is { } other ? $" (did you mean '{other}'? names are case-sensitive)" : null;

}

/// <summary>How a rule's resource name is matched.</summary>
internal static class PolicyResourceName
{
    /// <summary>
    /// A resource named by its URL matches with or without a trailing slash, as the token exchange finds it (a deny
    /// rule naming "https://mcp.example/tickets/" must not miss "https://mcp.example/tickets"); an id as written.
    /// </summary>
    public static string Key(string resource) => resource.Contains("://", StringComparison.Ordinal) ? resource.TrimEnd('/') : resource;
}
