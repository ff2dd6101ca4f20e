using Ema.Server.Model;
using Ema.Server.Stores;

namespace Ema.Testing;

/// <summary>
/// An application store that knows a fixed list of resources and nothing else: what the policy engine reads (its
/// catalog half lists resources; evaluation gets the resource in the request). Everything else is not supported.
/// </summary>
public sealed class FixedResourceStore(IReadOnlyList<ResourceApplication> resources) : IApplicationStore
{
    public Task<IReadOnlyList<ResourceApplication>> ListResourcesAsync(CancellationToken cancellationToken) => Task.FromResult(resources);

    public Task<ResourceApplication?> FindResourceAsync(string resourceId, CancellationToken cancellationToken) => Task.FromResult(resources.FirstOrDefault(r => r.Id == resourceId));

    public Task<ResourceApplication?> FindResourceByIdentifierAsync(string resource, CancellationToken cancellationToken) => Task.FromResult(resources.FirstOrDefault(r => r.Resource == resource));

    public Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<ClientApplication>> ListClientsAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null) => throw new NotSupportedException();

    public Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null) => throw new NotSupportedException();

    public Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null) => throw new NotSupportedException();

    public Task<bool> SetClientJwksAsync(string clientId, string jwks, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null) => throw new NotSupportedException();

    public Task<bool> SetClientRequireDpopAsync(string clientId, bool requireDpop, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null) => throw new NotSupportedException();

    public Task<bool> SetTrustedIssuerTenantAsync(string issuer, string? issuerTenant, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null) => throw new NotSupportedException();

    public Task<bool> SetClientRedirectUrisAsync(string clientId, IReadOnlyList<string> redirectUris, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<bool> CreateResourceAsync(ResourceApplication resource, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null) => throw new NotSupportedException();

    public Task<string?> FindClientIdAtResourceAsync(string clientId, string resourceId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<bool> SetClientIdAtResourceAsync(string clientId, string resourceId, string clientIdAtResource, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null) => throw new NotSupportedException();
}
