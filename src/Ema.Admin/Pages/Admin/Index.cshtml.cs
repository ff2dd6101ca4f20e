using Ema.Server.Audit;

namespace Ema.Admin.Pages.Admin;

public sealed class IndexModel(AdminQueries queries) : ConsolePageModel
{
    public int Users { get; private set; }

    public int Groups { get; private set; }

    public int Clients { get; private set; }

    public int Resources { get; private set; }

    public int Sessions { get; private set; }

    public string PolicyText { get; private set; } = string.Empty;

    public IReadOnlyList<AuditEvent> Denials { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Users = (await queries.ListUsersAsync(null, int.MaxValue, cancellationToken)).Count;
        Groups = (await queries.ListGroupsAsync(cancellationToken)).Count;
        Clients = (await queries.ListClientsAsync(cancellationToken)).Count;
        Resources = (await queries.ListResourcesAsync(cancellationToken)).Count;
        Sessions = (await queries.ListSessionsAsync(cancellationToken)).Count;
        var source = await queries.GetPolicySourceAsync(cancellationToken);
        PolicyText = source.Kind switch { "file" => "file", "version" => "v" + source.Version!.Version, _ => "v1 entitlements" };
        Denials = await queries.SearchAuditAsync(null, new AuditQuery { Outcome = AuditOutcomes.Denied, Limit = 10 }, cancellationToken);
    }
}
