using Ema.Protocol;
using Ema.Server.Model;

namespace Ema.Server.Policy;

/// <summary>How the user authenticated, as the subject token tells it.</summary>
public sealed record AuthenticationContext(DateTimeOffset? AuthTime, IReadOnlyList<string> Amr, string? Acr);

/// <summary>Everything a policy may look at for one token-exchange decision (ID-JAG draft §4.3.3).</summary>
public sealed record AccessRequest
{
    public required User User { get; init; }

    public required IReadOnlyList<string> GroupIds { get; init; }

    public required IReadOnlyList<string> Roles { get; init; }

    public required ClientApplication Client { get; init; }

    public required ResourceApplication Resource { get; init; }

    /// <summary>Requested scopes (empty when the request named none).</summary>
    public required IReadOnlyList<string> RequestedScopes { get; init; }

    public required AuthenticationContext Authentication { get; init; }

    public string? RemoteAddress { get; init; }

    public required DateTimeOffset Now { get; init; }
}

/// <summary>A policy decision with its id and explanation.</summary>
public sealed record AccessDecision
{
    /// <summary>Decision id: the audit record's id, shown to users with a refusal.</summary>
    public required string DecisionId { get; init; }

    /// <summary>Whether access is granted.</summary>
    public bool Allowed => Error is null;

    /// <summary>Scopes granted (least privilege: requested ∩ entitled ∩ defined).</summary>
    public IReadOnlyList<string> GrantedScopes { get; init; } = [];

    /// <summary>The refusal, when not allowed.</summary>
    public OAuthError? Error { get; init; }

    /// <summary>Why: the rules that matched and the conditions that failed.</summary>
    public IReadOnlyList<string> Explanation { get; init; } = [];
}

/// <summary>A resource a user may reach through a client (the entitlement catalog, decision 20).</summary>
public sealed record EntitledResource(ResourceApplication Resource, IReadOnlyList<string> Scopes);

/// <summary>
/// The replaceable evaluation point of the IdP: entitlements v1, or the rule engine (RulePolicy), behind the same
/// interface (ID-JAG draft §4.3.3: the IdP MUST evaluate administrator policy).
/// </summary>
public interface IAccessPolicy
{
    /// <summary>Decides one token exchange.</summary>
    ValueTask<AccessDecision> EvaluateAsync(AccessRequest request, CancellationToken cancellationToken);

    /// <summary>Lists what the user may reach through the client (for the catalog).</summary>
    ValueTask<IReadOnlyList<EntitledResource>> ListEntitledAsync(User user, IReadOnlyList<string> groupIds, IReadOnlyList<string> roles, ClientApplication client, CancellationToken cancellationToken);
}
