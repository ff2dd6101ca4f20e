using System.Net;
using Ema.Protocol;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;

namespace Ema.Server.Policy;

/// <summary>
/// The policy engine (replacing entitlements v1 behind <see cref="IAccessPolicy"/> when a policy file is configured):
/// allow and deny rules over users, groups, roles, clients, resources and scopes, with conditions on authentication
/// strength and recency, network, time and user attributes. Deny overrides allow; nothing allowed means deny (the
/// explicit default); granted scopes are requested ∩ allowed ∩ defined − denied; high-risk scopes need recent MFA or
/// the IdP answers <c>insufficient_user_authentication</c> with <c>max_age</c>/<c>acr_values</c> (ID-JAG step-up).
/// Every decision carries its matching rules and failed conditions.
/// </summary>
public sealed class RulePolicy(PolicyDocument policy, IApplicationStore applications) : IAccessPolicy
{
    private const string Mfa = "mfa";

    public PolicyDocument Policy { get; } = policy ?? throw new ArgumentNullException(nameof(policy));

    // Rules indexed by the resources they name, so a decision looks only at the rules that can apply to its resource
    // (measured: 1,000 rules over 20 resources, docs/benchmarks.md).
    private readonly ResourceRuleIndex _index = new(policy.Rules);

    /// <inheritdoc />
    public ValueTask<AccessDecision> EvaluateAsync(AccessRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var decisionId = SecretHasher.NewOrderedId("dec_", request.Now);
        if (request.User.Status != UserStatus.Active)
        {
            return Deny(decisionId, OAuthError.From(ErrorIds.UserDisabled, $"user={request.User.Id}") with { DecisionId = decisionId }, ["user is disabled"]);
        }

        var defined = request.Resource.Scopes.Select(s => s.Name).ToList();
        if (request.RequestedScopes.FirstOrDefault(s => !defined.Contains(s, StringComparer.Ordinal)) is { } unknown)
        {
            return Deny(decisionId, OAuthError.From(ErrorIds.ScopeUnknown, $"The resource does not define the scope '{unknown}'.", null) with { DecisionId = decisionId }, [$"undefined scope {unknown}"]);
        }

        var explanation = new List<string>();
        var allowed = new HashSet<string>(StringComparer.Ordinal);
        var denied = new HashSet<string>(StringComparer.Ordinal);
        var deniedEntirely = false;
        (TimeSpan? MaxAge, string? Acr)? stepUp = null;
        foreach (var rule in _index.For(request.Resource).ByPriority)
        {
            if (!AppliesTo(rule, request.User.Id, request.GroupIds, request.Roles, request.Client.ClientId))
            {
                continue;
            }

            var failed = FailedConditions(rule.When, request);
            var scopes = rule.Scopes.Count == 0 ? defined : rule.Scopes.Where(defined.Contains).ToList();
            if (failed.Count > 0)
            {
                explanation.Add($"rule {rule.Id} ({rule.Effect.ToString().ToLowerInvariant()}, line {rule.Line}) does not apply: {string.Join("; ", failed)}");
                if (rule.Effect == PolicyEffect.Allow && failed.All(f => f.StartsWith("auth:", StringComparison.Ordinal)))
                {
                    // Only the sign-in was too weak or too old: a step-up would satisfy this rule.
                    stepUp = (rule.When.MaxAuthAge ?? (rule.When.RequireMfa ? Policy.HighRiskMfaMaxAge : null), rule.When.Acr.Count > 0 ? string.Join(' ', rule.When.Acr) : rule.When.RequireMfa ? AuthenticationContextClasses.MultiFactor : null);
                }

                continue;
            }

            if (rule.Effect == PolicyEffect.Deny)
            {
                deniedEntirely |= rule.Scopes.Count == 0;
                denied.UnionWith(scopes);
                explanation.Add($"rule {rule.Id} (deny, line {rule.Line}) denies {(rule.Scopes.Count == 0 ? "the resource" : string.Join(' ', scopes))}");
            }
            else
            {
                allowed.UnionWith(scopes);
                explanation.Add($"rule {rule.Id} (allow, line {rule.Line}) allows {string.Join(' ', scopes)}");
            }
        }

        var name = $"{request.Resource.DisplayName} for you in {request.Client.Name}";
        if (deniedEntirely)
        {
            return Deny(decisionId, OAuthError.From(ErrorIds.PolicyDenied, $"Your organization's policy blocks {name}.", null) with { DecisionId = decisionId }, explanation);
        }

        var requested = request.RequestedScopes.Count == 0 ? defined : request.RequestedScopes.Distinct(StringComparer.Ordinal).ToList();
        var granted = requested.Where(s => allowed.Contains(s) && !denied.Contains(s)).ToList();

        // High-risk scopes need a recent MFA sign-in. Asked for explicitly: step up; only implied: left out.
        var risky = granted.Where(s => request.Resource.Scopes.Any(d => d.Name == s && d.Risk == ScopeRisk.High)).ToList();
        if (risky.Count > 0 && !RecentMfa(request.Authentication, request.Now, Policy.HighRiskMfaMaxAge))
        {
            explanation.Add($"high-risk {string.Join(' ', risky)} needs MFA within {Policy.HighRiskMfaMaxAge.TotalMinutes:0} minutes");
            if (request.RequestedScopes.Count > 0)
            {
                return Deny(decisionId, OAuthError.InsufficientUserAuthentication($"{string.Join(' ', risky)} needs a recent sign-in with MFA.", (int)Policy.HighRiskMfaMaxAge.TotalSeconds, AuthenticationContextClasses.MultiFactor) with { DecisionId = decisionId }, explanation);
            }

            granted.RemoveAll(risky.Contains);
        }

        if (granted.Count > 0)
        {
            return ValueTask.FromResult(new AccessDecision { DecisionId = decisionId, GrantedScopes = granted, Explanation = explanation });
        }

        if (stepUp is { } needed)
        {
            return Deny(decisionId, OAuthError.InsufficientUserAuthentication($"{name} needs a stronger or more recent sign-in.", needed.MaxAge is { } age ? (int)age.TotalSeconds : null, needed.Acr) with { DecisionId = decisionId }, explanation);
        }

        if (allowed.Count == 0)
        {
            explanation.Add("no rule allows this (default: deny)");
            return Deny(decisionId, OAuthError.From(ErrorIds.PolicyDenied, $"Your organization has not enabled {name}.", null) with { DecisionId = decisionId }, explanation);
        }

        explanation.Add("none of the requested scopes is allowed");
        return Deny(decisionId, OAuthError.From(ErrorIds.ScopeNotEntitled) with { DecisionId = decisionId }, explanation);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<EntitledResource>> ListEntitledAsync(User user, IReadOnlyList<string> groupIds, IReadOnlyList<string> roles, ClientApplication client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(client);
        // What the exchange would refuse whatever the rules say (a disabled user, client or resource) is not offered.
        if (user.Status != UserStatus.Active || !client.Enabled)
        {
            return [];
        }

        var result = new List<EntitledResource>();
        foreach (var resource in await applications.ListResourcesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!resource.Enabled)
            {
                continue;
            }

            // The catalog lists what rules could allow; conditions (MFA, network, hours) are checked at exchange time.
            var rules = _index.For(resource).InFileOrder.Where(r => AppliesTo(r, user.Id, groupIds, roles, client.ClientId)).ToList();
            var defined = resource.Scopes.Select(s => s.Name).ToList();
            var unconditionalDenies = rules.Where(r => r.Effect == PolicyEffect.Deny && r.When.IsEmpty).ToList();
            if (unconditionalDenies.Any(r => r.Scopes.Count == 0))
            {
                continue;
            }

            var denied = unconditionalDenies.SelectMany(r => r.Scopes).ToHashSet(StringComparer.Ordinal);
            var scopes = rules.Where(r => r.Effect == PolicyEffect.Allow).SelectMany(r => r.Scopes.Count == 0 ? defined : r.Scopes).Where(s => defined.Contains(s) && !denied.Contains(s)).Distinct(StringComparer.Ordinal).ToList();
            if (scopes.Count > 0)
            {
                result.Add(new EntitledResource(resource, scopes));
            }
        }

        return result;
    }

    // For a candidate rule of the resource (ResourceRuleIndex has matched the resource already): subject and client.
    // Plain loops: this runs for every candidate rule of every token exchange (docs/benchmarks.md, policy evaluation).
    private static bool AppliesTo(PolicyRule rule, string userId, IReadOnlyList<string> groups, IReadOnlyList<string> roles, string clientId) =>
        (rule.Subjects.IsEveryone || Contains(rule.Subjects.Users, userId) || SharesAny(rule.Subjects.Groups, groups) || SharesAny(rule.Subjects.Roles, roles))
        && (rule.Clients.Count == 0 || Contains(rule.Clients, clientId));

    private static bool Contains(IReadOnlyList<string> values, string value)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (string.Equals(values[i], value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool SharesAny(IReadOnlyList<string> values, IReadOnlyList<string> others)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (Contains(others, values[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The conditions that do not hold; authentication failures are prefixed "auth:" (a step-up could fix them).</summary>
    internal static List<string> FailedConditions(PolicyConditions when, AccessRequest request)
    {
        var failed = new List<string>();
        var auth = request.Authentication;
        if (when.RequireMfa && !auth.Amr.Contains(Mfa, StringComparer.Ordinal))
        {
            failed.Add("auth: the sign-in did not use MFA");
        }

        if (when.MaxAuthAge is { } age && !SignedInWithin(auth, request.Now, age))
        {
            failed.Add($"auth: the sign-in is older than {age.TotalMinutes:0} minutes");
        }

        if (when.Acr.Count > 0 && (auth.Acr is null || !when.Acr.Contains(auth.Acr)))
        {
            failed.Add($"auth: acr is {auth.Acr ?? "absent"}, not {string.Join(" or ", when.Acr)}");
        }

        if (when.Networks.Count > 0 && !(IPAddress.TryParse(request.RemoteAddress, out var address) && when.Networks.Any(n => InNetwork(address, n.Network, n.PrefixLength))))
        {
            failed.Add($"the request comes from {request.RemoteAddress ?? "an unknown address"}, outside the allowed networks");
        }

        if (when.Hours is { } hours && !hours.Contains(request.Now))
        {
            failed.Add($"outside the allowed hours ({hours.Describe()})");
        }

        if (when.Departments.Count > 0 && !when.Departments.Contains(request.User.Department ?? string.Empty, StringComparer.OrdinalIgnoreCase))
        {
            failed.Add($"department {request.User.Department ?? "(none)"} is not {string.Join(" or ", when.Departments)}");
        }

        if (when.Statuses.Count > 0 && !when.Statuses.Contains(request.User.Status.ToString(), StringComparer.OrdinalIgnoreCase))
        {
            failed.Add($"status {request.User.Status} is not {string.Join(" or ", when.Statuses)}");
        }

        return failed;
    }

    private static bool RecentMfa(AuthenticationContext auth, DateTimeOffset now, TimeSpan maxAge) =>
        auth.Amr.Contains(Mfa, StringComparer.Ordinal) && SignedInWithin(auth, now, maxAge);

    // A sign-in time in the future (beyond a minute of clock difference between instances) is no evidence of a recent
    // sign-in: it would satisfy every age limit for as long as it stays in the future.
    private static bool SignedInWithin(AuthenticationContext auth, DateTimeOffset now, TimeSpan maxAge) =>
        auth.AuthTime is { } at && now - at <= maxAge && at - now <= TimeSpan.FromMinutes(1);

    private static bool InNetwork(IPAddress address, IPAddress network, int prefixLength)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var a = address.GetAddressBytes();
        var n = network.GetAddressBytes();
        if (a.Length != n.Length)
        {
            return false;
        }

        for (var i = 0; i < a.Length && prefixLength > 0; i++, prefixLength -= 8)
        {
            var mask = prefixLength >= 8 ? 0xFF : (byte)(0xFF << (8 - prefixLength));
            if ((a[i] & mask) != (n[i] & mask))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Rules by the resource ids and identifiers they name; rules naming none apply to every resource. The candidate
    /// rules of a resource are merged once and kept in two orders: the file's, and by priority (highest first, the file
    /// order within one priority), which is the order decisions evaluate them in.
    /// </summary>
    private sealed class ResourceRuleIndex
    {
        private readonly (int Order, PolicyRule Rule)[] _everyResource;
        private readonly Dictionary<string, (int Order, PolicyRule Rule)[]> _byResource;

        // Keyed by the resource's id and identifier as registered; bounded by the resource registry, and rebuilt with the
        // policy (a new policy version is a new RulePolicy).
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Id, string Identifier), CandidateRules> _candidates = new();

        public ResourceRuleIndex(IReadOnlyList<PolicyRule> rules)
        {
            var ordered = rules.Select((rule, order) => (Order: order, Rule: rule)).ToArray();
            _everyResource = [.. ordered.Where(r => r.Rule.Resources.Count == 0)];
            _byResource = ordered.SelectMany(r => r.Rule.Resources.Select(Key).Distinct(StringComparer.Ordinal).Select(resource => (Resource: resource, Entry: r)))
                .GroupBy(x => x.Resource, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Select(x => x.Entry).ToArray(), StringComparer.Ordinal);
        }

        public CandidateRules For(ResourceApplication resource) => _candidates.GetOrAdd((resource.Id, resource.Resource), Build);

        private static string Key(string resource) => PolicyResourceName.Key(resource);

        private CandidateRules Build((string Id, string Identifier) resource)
        {
            _byResource.TryGetValue(Key(resource.Id), out var byId);
            _byResource.TryGetValue(Key(resource.Identifier), out var byIdentifier);

            // A rule may name both the id and the identifier: merge, drop duplicates, keep the file order.
            PolicyRule[] inFileOrder = [.. _everyResource.Concat(byId ?? []).Concat(byIdentifier ?? []).DistinctBy(r => r.Order).OrderBy(r => r.Order).Select(r => r.Rule)];
            return new CandidateRules(inFileOrder, [.. inFileOrder.OrderByDescending(r => r.Priority)]); // OrderBy is stable
        }
    }

    private sealed record CandidateRules(PolicyRule[] InFileOrder, PolicyRule[] ByPriority);

    private static ValueTask<AccessDecision> Deny(string decisionId, OAuthError error, IReadOnlyList<string> explanation) =>
        ValueTask.FromResult(new AccessDecision { DecisionId = decisionId, Error = error, Explanation = explanation });
}
