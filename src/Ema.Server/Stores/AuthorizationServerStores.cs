using Ema.Server.Model;

namespace Ema.Server.Stores;

/// <summary>Looks up clients for client authentication (the IdP's and the authorization server's directories differ).</summary>
public interface IClientDirectory
{
    Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken);
}

/// <summary>
/// The authorization server's configuration and accounts. Each change takes an optional audit record: given, the change
/// and the record are stored together or not at all (an <see cref="Audit.AuditUnavailableException"/>), and a change that
/// changed nothing (false) records nothing.
/// </summary>
public interface IAuthorizationServerStore
{
    Task<bool> CreateTenantAsync(Tenant tenant, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken cancellationToken);

    Task<TrustedIssuerRegistration?> FindTrustedIssuerAsync(string issuer, CancellationToken cancellationToken);

    Task<IReadOnlyList<TrustedIssuerRegistration>> ListTrustedIssuersAsync(CancellationToken cancellationToken);

    Task<bool> CreateTrustedIssuerAsync(TrustedIssuerRegistration issuer, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>
    /// Stops (or resumes) trusting an issuer's ID-JAGs; its accounts stay. False when the issuer is not registered.
    /// </summary>
    Task<bool> SetTrustedIssuerEnabledAsync(string issuer, bool enabled, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken);

    Task<IReadOnlyList<ClientApplication>> ListClientsAsync(CancellationToken cancellationToken);

    Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Disables (or enables again) a client. False when there is no such client.</summary>
    Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Replaces a client's secret hash (rotation: the old secret stops working). False when there is no such client.</summary>
    Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Replaces a <c>private_key_jwt</c> client's public keys (false: no such client with that method).</summary>
    Task<bool> SetClientJwksAsync(string clientId, string jwks, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Sets whether only key-bound ID-JAGs are redeemed for the client (false: no such client).</summary>
    Task<bool> SetClientRequireDpopAsync(string clientId, bool requireDpop, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Sets (or clears, with null) the IdP tenant a trusted issuer's ID-JAGs must carry (false: no such issuer).</summary>
    Task<bool> SetTrustedIssuerTenantAsync(string issuer, string? issuerTenant, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<IReadOnlyList<ProtectedResource>> ListResourcesAsync(CancellationToken cancellationToken);

    Task<bool> CreateResourceAsync(ProtectedResource resource, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    /// <summary>Stops issuing tokens for a resource. False when there is no such resource.</summary>
    Task<bool> DeleteResourceAsync(string id, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null);

    Task<Account?> FindAccountAsync(string tenantId, string issuer, string subject, CancellationToken cancellationToken);

    /// <summary>Creates the account for (tenant, issuer, subject) or returns the existing one (atomic under concurrency).</summary>
    Task<Account> GetOrCreateAccountAsync(Account candidate, CancellationToken cancellationToken);
}
