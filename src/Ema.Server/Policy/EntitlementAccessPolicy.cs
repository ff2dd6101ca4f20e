using Ema.Protocol;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;

namespace Ema.Server.Policy;

/// <summary>
/// Entitlements v1: a user may use client C with resource R when an entitlement names the user or one of the user's
/// groups for (C, R); granted scopes are the union of the matching entitlements' scopes, intersected with the request
/// and with the scopes the resource defines (EMA-S+ §7.2.1 least privilege). Default: deny.
/// </summary>
public sealed class EntitlementAccessPolicy : IAccessPolicy
{
    private readonly IEntitlementStore _entitlements;
    private readonly IApplicationStore _applications;

    public EntitlementAccessPolicy(IEntitlementStore entitlements, IApplicationStore applications)
    {
        ArgumentNullException.ThrowIfNull(entitlements);
        ArgumentNullException.ThrowIfNull(applications);
        _entitlements = entitlements;
        _applications = applications;
    }

    /// <inheritdoc />
    public async ValueTask<AccessDecision> EvaluateAsync(AccessRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var decisionId = SecretHasher.NewOrderedId("dec_", request.Now);
        if (request.User.Status != UserStatus.Active)
        {
            return Deny(decisionId, OAuthError.From(ErrorIds.UserDisabled, $"user={request.User.Id}"), "user is disabled");
        }

        var defined = request.Resource.Scopes.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = request.RequestedScopes.Where(s => !defined.Contains(s)).ToList();
        if (unknown.Count > 0)
        {
            return Deny(decisionId, OAuthError.From(ErrorIds.ScopeUnknown, $"The resource does not define the scope '{unknown[0]}'.", null) with { DecisionId = decisionId }, $"undefined scope {unknown[0]}");
        }

        var matching = (await _entitlements.ListForClientAsync(request.Client.ClientId, cancellationToken).ConfigureAwait(false))
            .Where(e => e.ResourceId == request.Resource.Id && Applies(e, request.User.Id, request.GroupIds))
            .ToList();
        if (matching.Count == 0)
        {
            var description = $"Your organization has not enabled {request.Resource.DisplayName} for you in {request.Client.Name}.";
            return Deny(decisionId, OAuthError.From(ErrorIds.PolicyDenied, description, null) with { DecisionId = decisionId }, "no entitlement matches (default deny)");
        }

        var entitled = matching.SelectMany(e => e.Scopes).Where(defined.Contains).ToHashSet(StringComparer.Ordinal);
        var granted = request.RequestedScopes.Count == 0
            ? request.Resource.Scopes.Select(s => s.Name).Where(entitled.Contains).ToList()
            : request.RequestedScopes.Where(entitled.Contains).Distinct(StringComparer.Ordinal).ToList();
        var explanation = matching.Select(e => $"entitlement {e.Id} ({e.SubjectType.ToString().ToLowerInvariant()} {e.SubjectId}) allows {string.Join(' ', e.Scopes)}").ToList();
        if (granted.Count == 0)
        {
            return Deny(decisionId, OAuthError.From(ErrorIds.ScopeNotEntitled) with { DecisionId = decisionId }, "no requested scope is entitled", explanation);
        }

        return new AccessDecision { DecisionId = decisionId, GrantedScopes = granted, Explanation = explanation };
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<EntitledResource>> ListEntitledAsync(User user, IReadOnlyList<string> groupIds, IReadOnlyList<string> roles, ClientApplication client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(client);
        if (user.Status != UserStatus.Active || !client.Enabled)
        {
            return [];
        }

        var result = new List<EntitledResource>();
        var entitlements = await _entitlements.ListForClientAsync(client.ClientId, cancellationToken).ConfigureAwait(false);
        foreach (var group in entitlements.Where(e => Applies(e, user.Id, groupIds)).GroupBy(e => e.ResourceId, StringComparer.Ordinal))
        {
            var resource = await _applications.FindResourceAsync(group.Key, cancellationToken).ConfigureAwait(false);
            if (resource is null || !resource.Enabled)
            {
                continue;
            }

            var entitled = group.SelectMany(e => e.Scopes).ToHashSet(StringComparer.Ordinal);
            var scopes = resource.Scopes.Select(s => s.Name).Where(entitled.Contains).ToList();
            if (scopes.Count > 0)
            {
                result.Add(new EntitledResource(resource, scopes));
            }
        }

        return result;
    }

    private static bool Applies(Entitlement entitlement, string userId, IReadOnlyList<string> groupIds) => entitlement.SubjectType switch
    {
        EntitlementSubjectType.User => entitlement.SubjectId == userId,
        EntitlementSubjectType.Group => groupIds.Contains(entitlement.SubjectId, StringComparer.Ordinal),
        _ => false,
    };

    private static AccessDecision Deny(string decisionId, OAuthError error, string reason, IReadOnlyList<string>? explanation = null) =>
        new() { DecisionId = decisionId, Error = error, Explanation = [.. explanation ?? [], reason] };
}
