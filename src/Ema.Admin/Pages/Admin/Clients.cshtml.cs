namespace Ema.Admin.Pages.Admin;

public sealed class ClientsModel(AdminQueries queries, AdminOperations operations) : ConsolePageModel
{
    public IReadOnlyList<ClientView> Clients { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken) => Clients = await queries.ListClientsAsync(cancellationToken);

    public async Task OnPostCreateAsync(string clientId, string name, string authenticationMethod, bool tokenExchange, string? redirectUris, string? jwks, bool requireDpop, CancellationToken cancellationToken)
    {
        var uris = (redirectUris ?? string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Show(await operations.CreateClientAsync(Me, clientId, name, uris, authenticationMethod, tokenExchange, string.IsNullOrWhiteSpace(jwks) ? null : jwks, requireDpop, cancellationToken));
        Clients = await queries.ListClientsAsync(cancellationToken);
    }

    public async Task OnPostRotateAsync(string clientId, CancellationToken cancellationToken)
    {
        Show(await operations.RotateClientSecretAsync(Me, clientId, cancellationToken));
        Clients = await queries.ListClientsAsync(cancellationToken);
    }

    public async Task OnPostEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken)
    {
        Show(await operations.SetClientEnabledAsync(Me, clientId, enabled, cancellationToken));
        Clients = await queries.ListClientsAsync(cancellationToken);
    }
}
