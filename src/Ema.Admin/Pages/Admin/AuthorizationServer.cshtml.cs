using Ema.Server.Model;
using Ema.Server.Stores;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.Admin.Pages.Admin;

/// <summary>
/// The authorization server's settings (where this host runs that role): tenants, trusted issuers, its clients and its
/// resources; distrust, disable, rotate and remove — through <see cref="AuthorizationServerOperations"/>, as the API and
/// <c>ema admin as</c> do.
/// </summary>
public sealed class AuthorizationServerModel(IServiceProvider services) : ConsolePageModel
{
    private readonly IAuthorizationServerStore? _store = Api.AuthorizationServerApi.IsHosted(services) ? services.GetService<IAuthorizationServerStore>() : null;

    public bool Hosted => _store is not null;

    public IReadOnlyList<Tenant> Tenants { get; private set; } = [];

    public IReadOnlyList<TrustedIssuerRegistration> Issuers { get; private set; } = [];

    public IReadOnlyList<ClientApplication> Clients { get; private set; } = [];

    public IReadOnlyList<ProtectedResource> Resources { get; private set; } = [];

    private AuthorizationServerOperations Operations => services.GetRequiredService<AuthorizationServerOperations>();

    public Task OnGetAsync(CancellationToken cancellationToken) => LoadAsync(cancellationToken);

    public Task OnPostTenantAsync(string id, string name, CancellationToken cancellationToken) =>
        ChangeAsync(() => Operations.CreateTenantAsync(Me, id, name, cancellationToken), cancellationToken);

    public Task OnPostTrustAsync(string issuer, string tenantId, string? metadataUrl, string? jwksUrl, string? algorithms, string? clients, bool noJit, string? issuerTenant, CancellationToken cancellationToken) =>
        ChangeAsync(() => Operations.TrustIssuerAsync(Me, new TrustIssuerInput(issuer ?? string.Empty, tenantId ?? string.Empty, metadataUrl, jwksUrl, null, Words(algorithms), Words(clients), !noJit, issuerTenant), cancellationToken), cancellationToken);

    public Task OnPostIssuerEnabledAsync(string issuer, bool enabled, CancellationToken cancellationToken) =>
        ChangeAsync(() => Operations.SetIssuerEnabledAsync(Me, issuer, enabled, cancellationToken), cancellationToken);

    public Task OnPostClientAsync(string clientId, string name, string? jwks, bool requireDpop, CancellationToken cancellationToken) =>
        ChangeAsync(() => Operations.CreateClientAsync(Me, clientId, name, string.IsNullOrWhiteSpace(jwks) ? null : jwks, requireDpop, cancellationToken), cancellationToken);

    public Task OnPostClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken) =>
        ChangeAsync(() => Operations.SetClientEnabledAsync(Me, clientId, enabled, cancellationToken), cancellationToken);

    public Task OnPostRotateAsync(string clientId, CancellationToken cancellationToken) =>
        ChangeAsync(() => Operations.RotateClientSecretAsync(Me, clientId, cancellationToken), cancellationToken);

    public Task OnPostResourceAsync(string id, string name, string resource, string? scopes, CancellationToken cancellationToken) =>
        ChangeAsync(() => Operations.CreateResourceAsync(Me, id, name, resource, Words(scopes) ?? [], cancellationToken), cancellationToken);

    public Task OnPostRemoveResourceAsync(string id, CancellationToken cancellationToken) =>
        ChangeAsync(() => Operations.RemoveResourceAsync(Me, id, cancellationToken), cancellationToken);

    private static string[]? Words(string? text) =>
        (text ?? string.Empty).Split([' ', ',', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries) is { Length: > 0 } words ? words : null;

    private async Task ChangeAsync(Func<Task<AdminResult>> change, CancellationToken cancellationToken)
    {
        Show(Hosted ? await change() : AdminResult.Refused("This host does not run the authorization server."));
        await LoadAsync(cancellationToken);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return;
        }

        Tenants = await _store.ListTenantsAsync(cancellationToken);
        Issuers = await _store.ListTrustedIssuersAsync(cancellationToken);
        Clients = await _store.ListClientsAsync(cancellationToken);
        Resources = await _store.ListResourcesAsync(cancellationToken);
    }
}
