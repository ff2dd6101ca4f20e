namespace Ema.Admin.Pages.My;

public sealed class ConnectionsModel(AdminQueries queries, AdminOperations operations) : ConsolePageModel
{
    public IReadOnlyList<ConnectionView> Connections { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken) => Connections = await queries.ListConnectionsAsync(Me.Id, cancellationToken);

    public async Task OnPostDisconnectAsync(string clientId, CancellationToken cancellationToken)
    {
        Show(await operations.DisconnectClientAsync(Me, clientId, cancellationToken));
        Connections = await queries.ListConnectionsAsync(Me.Id, cancellationToken);
    }
}
