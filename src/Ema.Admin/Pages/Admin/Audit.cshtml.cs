using System.Globalization;
using Ema.Server.Audit;
using Microsoft.Extensions.Options;

namespace Ema.Admin.Pages.Admin;

public sealed record AuditFilter(string? User, string? Client, string? Resource, string? Outcome, string? Type, string? Since, string? Until);

public sealed class AuditModel(AdminQueries queries, DecisionTrail decisions, IOptions<AdminConsoleOptions> options) : ConsolePageModel
{
    public AuditFilter Filter { get; private set; } = new(null, null, null, null, null, null, null);

    public IReadOnlyList<AuditEvent> Records { get; private set; } = [];

    public string? TrailId { get; private set; }

    public IReadOnlyList<TrailRecord> Trail { get; private set; } = [];

    public IReadOnlyDictionary<string, string> Usernames { get; private set; } = new Dictionary<string, string>();

    /// <summary>The username for a user id; other subjects (accounts at the authorization server) as they are.</summary>
    public string Who(string? subject) => subject is not null && Usernames.TryGetValue(subject, out var name) ? name : subject ?? string.Empty;

    /// <summary>Which role wrote a record type.</summary>
    public static string Role(string type) => type switch
    {
        AuditEventTypes.TokenExchange or AuditEventTypes.TokenRequest or AuditEventTypes.SignIn or AuditEventTypes.SignOut => "IdP",
        AuditEventTypes.JwtBearer => "authorization server",
        AuditEventTypes.McpToolCall => "MCP server",
        _ => "admin",
    };

    public async Task OnGetAsync(string? user, string? client, string? resource, string? outcome, string? type, string? since, string? until, string? trail, CancellationToken cancellationToken)
    {
        Filter = new(user, client, resource, outcome, type, since, until);
        Usernames = await queries.UsernamesAsync(cancellationToken);
        if (!string.IsNullOrWhiteSpace(trail))
        {
            TrailId = trail.Trim();
            Trail = await decisions.FollowAsync(TrailId, cancellationToken);
        }

        Records = await queries.SearchAuditAsync(user, new AuditQuery
        {
            ClientId = Blank(client),
            Resource = Blank(resource),
            Outcome = Blank(outcome),
            Type = Blank(type),
            Since = Time(since),
            Until = Time(until),
            Limit = options.Value.AuditPageSize,
        }, cancellationToken);
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static DateTimeOffset? Time(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed) ? parsed : null;
}
