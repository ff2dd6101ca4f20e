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
        (Users, Groups, Clients, Resources, Sessions) = await queries.CountAsync(cancellationToken);
        var source = await queries.GetPolicySourceAsync(cancellationToken);
        PolicyText = source.Kind switch { "file" => "file", "version" => "v" + source.Version!.Version, _ => "v1 entitlements" };
        Denials = await queries.SearchAuditAsync(null, new AuditQuery { Outcome = AuditOutcomes.Denied, Limit = 10 }, cancellationToken);
    }
}
