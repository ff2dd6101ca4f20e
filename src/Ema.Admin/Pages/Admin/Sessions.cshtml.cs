namespace Ema.Admin.Pages.Admin;

public sealed class SessionsModel(AdminQueries queries, AdminOperations operations) : ConsolePageModel
{
    public IReadOnlyList<SessionView> Sessions { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken) => Sessions = await queries.ListSessionsAsync(cancellationToken);

    public async Task OnPostRevokeAsync(string sessionId, CancellationToken cancellationToken)
    {
        Show(await operations.RevokeSessionAsync(Me, sessionId, cancellationToken));
        Sessions = await queries.ListSessionsAsync(cancellationToken);
    }
}
