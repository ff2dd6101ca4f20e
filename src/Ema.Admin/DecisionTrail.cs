using Ema.Server.Audit;

namespace Ema.Admin;

/// <summary>One record of a decision trail and how deep it sits (0: the decision, 1: what redeemed it, …).</summary>
public sealed record TrailRecord(AuditEvent Event, int Depth);

/// <summary>
/// Follows one decision across the roles: the IdP's token-exchange record (its id is the decision id; its token id is
/// the ID-JAG's <c>jti</c>) → the authorization server's jwt-bearer records naming that <c>jti</c> as parent (their
/// token id is the access token's <c>jti</c>) → the MCP servers' tool-call records naming that as parent.
/// </summary>
public sealed class DecisionTrail(IAuditReader reader)
{
    private const int MaxDepth = 4;
    private const int MaxRecords = 500;

    public async Task<IReadOnlyList<TrailRecord>> FollowAsync(string id, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            return [];
        }

        id = id.Trim();
        var matches = await reader.ListAsync(new AuditQuery { TokenId = id, Limit = 50 }, cancellationToken).ConfigureAwait(false);
        var root = matches.FirstOrDefault(e => e.Id == id) ?? matches.FirstOrDefault(e => e.TokenId == id);
        if (root is null)
        {
            return [];
        }

        var trail = new List<TrailRecord> { new(root, 0) };
        var seen = new HashSet<string>(StringComparer.Ordinal) { root.Id };
        var frontier = new List<AuditEvent> { root };
        for (var depth = 1; depth <= MaxDepth && frontier.Count > 0 && trail.Count < MaxRecords; depth++)
        {
            var next = new List<AuditEvent>();
            foreach (var parent in frontier.Where(e => e.TokenId is not null))
            {
                // What redeems or uses a token comes after it: the search stops at blocks older than the parent (a minute of
                // slack for records timed just before they were queued), instead of reading the whole log per token.
                var children = await reader.ListAsync(new AuditQuery { TokenId = parent.TokenId, Since = parent.Time - TimeSpan.FromMinutes(1), Limit = MaxRecords }, cancellationToken).ConfigureAwait(false);
                foreach (var child in children.Where(c => c.ParentTokenId == parent.TokenId && seen.Add(c.Id)).OrderBy(c => c.Time))
                {
                    trail.Add(new(child, depth));
                    next.Add(child);
                }
            }

            frontier = next;
        }

        return trail;
    }
}
