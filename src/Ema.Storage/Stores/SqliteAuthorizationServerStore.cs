using System.Text.Json;
using Dapper;
using Ema.Server.Audit;
using Ema.Protocol;
using Ema.Server.Model;
using Ema.Server.Stores;

namespace Ema.Storage.Stores;

/// <summary>The authorization server's tenants, trusted issuers, clients, resources and accounts in SQLite.</summary>
public sealed class SqliteAuthorizationServerStore : IAuthorizationServerStore
{
    private const string IssuerColumns = "issuer AS Issuer, tenant_id AS TenantId, issuer_tenant AS IssuerTenant, metadata_uri AS MetadataUri, jwks_uri AS JwksUri, inline_jwks AS InlineJwks, allowed_algorithms AS AllowedAlgorithms, allowed_client_ids AS AllowedClientIds, jit_provisioning AS Jit, clock_skew_seconds AS Skew, max_age_seconds AS MaxAge, tolerate_audience_trailing_slash AS Tolerate, enabled AS Enabled";
    private const string ClientColumns = "client_id AS ClientId, name AS Name, auth_method AS AuthMethod, secret_hash AS SecretHash, jwks AS Jwks, require_dpop AS RequireDpop, enabled AS Enabled";
    private const string AccountColumns = "id AS Id, tenant_id AS TenantId, issuer AS Issuer, subject AS Subject, email AS Email, created_at AS CreatedAt";
    private readonly SqliteDatabase _db;
    private readonly TimeProvider _time;
    private readonly SqliteAuditLog _audit;

    public SqliteAuthorizationServerStore(SqliteDatabase db, TimeProvider time, SqliteAuditLog audit)
    {
        _db = db;
        _time = time;
        _audit = audit;
    }

    private sealed record IssuerRow(string Issuer, string TenantId, string? IssuerTenant, string? MetadataUri, string? JwksUri, string? InlineJwks, string AllowedAlgorithms, string? AllowedClientIds, long Jit, long Skew, long MaxAge, long Tolerate, long Enabled)
    {
        public TrustedIssuerRegistration ToModel() => new()
        {
            Issuer = Issuer, TenantId = TenantId, IssuerTenant = IssuerTenant, MetadataUri = MetadataUri, JwksUri = JwksUri, InlineJwks = InlineJwks,
            AllowedAlgorithms = Db.List(AllowedAlgorithms), AllowedClientIds = AllowedClientIds is null ? null : Db.List(AllowedClientIds),
            JitProvisioning = Jit != 0, ClockSkew = TimeSpan.FromSeconds(Skew), MaxAge = TimeSpan.FromSeconds(MaxAge), TolerateAudienceTrailingSlash = Tolerate != 0, Enabled = Enabled != 0,
        };
    }

    private sealed record ClientRow(string ClientId, string Name, string AuthMethod, string? SecretHash, string? Jwks, long RequireDpop, long Enabled)
    {
        public ClientApplication ToModel() => new()
        {
            ClientId = ClientId, Name = Name, AuthenticationMethod = AuthMethod, SecretHash = SecretHash, Jwks = Jwks, RequireDpop = RequireDpop != 0, Enabled = Enabled != 0,
            GrantTypes = [GrantTypes.JwtBearer],
        };
    }

    private sealed record ResourceRow(string Id, string Name, string Resource, string Scopes);

    private sealed record AccountRow(string Id, string TenantId, string Issuer, string Subject, string? Email, long CreatedAt)
    {
        public Account ToModel() => new(Id, TenantId, Issuer, Subject, Email, Db.Time(CreatedAt));
    }

    public Task<bool> CreateTenantAsync(Tenant tenant, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("INSERT INTO as_tenants (id, name) VALUES (@Id, @Name)", tenant, auditRecord, cancellationToken);

    public async Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken cancellationToken) =>
        [.. await _db.RunAsync(c => c.QueryAsync<Tenant>("SELECT id AS Id, name AS Name FROM as_tenants ORDER BY name"), cancellationToken).ConfigureAwait(false)];

    public async Task<TrustedIssuerRegistration?> FindTrustedIssuerAsync(string issuer, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<IssuerRow>($"SELECT {IssuerColumns} FROM as_trusted_issuers WHERE issuer = @issuer", new { issuer }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<IReadOnlyList<TrustedIssuerRegistration>> ListTrustedIssuersAsync(CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<IssuerRow>($"SELECT {IssuerColumns} FROM as_trusted_issuers ORDER BY issuer"), cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    public Task<bool> CreateTrustedIssuerAsync(TrustedIssuerRegistration issuer, CancellationToken cancellationToken, AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        return _audit.ChangeOneAsync(
            "INSERT INTO as_trusted_issuers (issuer, tenant_id, issuer_tenant, metadata_uri, jwks_uri, inline_jwks, allowed_algorithms, allowed_client_ids, jit_provisioning, clock_skew_seconds, max_age_seconds, tolerate_audience_trailing_slash, enabled) VALUES (@Issuer, @TenantId, @IssuerTenant, @MetadataUri, @JwksUri, @InlineJwks, @algs, @clients, @jit, @skew, @maxAge, @tolerate, @enabled)",
            new
            {
                issuer.Issuer, issuer.TenantId, issuer.IssuerTenant, issuer.MetadataUri, issuer.JwksUri, issuer.InlineJwks, algs = Db.List(issuer.AllowedAlgorithms),
                clients = issuer.AllowedClientIds is null ? null : Db.List(issuer.AllowedClientIds), jit = issuer.JitProvisioning ? 1 : 0,
                skew = (long)issuer.ClockSkew.TotalSeconds, maxAge = (long)issuer.MaxAge.TotalSeconds, tolerate = issuer.TolerateAudienceTrailingSlash ? 1 : 0, enabled = issuer.Enabled ? 1 : 0,
            },
            auditRecord,
            cancellationToken);
    }

    public Task<bool> SetTrustedIssuerEnabledAsync(string issuer, bool enabled, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE as_trusted_issuers SET enabled = @enabled WHERE issuer = @issuer", new { issuer, enabled = enabled ? 1 : 0 }, auditRecord, cancellationToken);

    public Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE as_clients SET enabled = @enabled WHERE client_id = @clientId", new { clientId, enabled = enabled ? 1 : 0 }, auditRecord, cancellationToken);

    public Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE as_clients SET secret_hash = @secretHash WHERE client_id = @clientId AND auth_method <> @method", new { clientId, secretHash, method = Ema.Protocol.ClientAuthenticationMethods.PrivateKeyJwt }, auditRecord, cancellationToken);

    public Task<bool> SetClientRequireDpopAsync(string clientId, bool requireDpop, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE as_clients SET require_dpop = @dpop WHERE client_id = @clientId", new { clientId, dpop = requireDpop ? 1 : 0 }, auditRecord, cancellationToken);

    public Task<bool> SetTrustedIssuerTenantAsync(string issuer, string? issuerTenant, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE as_trusted_issuers SET issuer_tenant = @issuerTenant WHERE issuer = @issuer", new { issuer, issuerTenant }, auditRecord, cancellationToken);

    public Task<bool> SetClientJwksAsync(string clientId, string jwks, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE as_clients SET jwks = @jwks WHERE client_id = @clientId AND auth_method = @method", new { jwks, clientId, method = Ema.Protocol.ClientAuthenticationMethods.PrivateKeyJwt }, auditRecord, cancellationToken);

    public Task<bool> DeleteResourceAsync(string id, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("DELETE FROM as_resources WHERE id = @id", new { id }, auditRecord, cancellationToken);

    public async Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<ClientRow>($"SELECT {ClientColumns} FROM as_clients WHERE client_id = @clientId", new { clientId }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<IReadOnlyList<ClientApplication>> ListClientsAsync(CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<ClientRow>($"SELECT {ClientColumns} FROM as_clients ORDER BY client_id"), cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    public Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        return _audit.ChangeOneAsync(
            "INSERT INTO as_clients (client_id, name, auth_method, secret_hash, jwks, require_dpop, enabled, created_at) VALUES (@ClientId, @Name, @AuthenticationMethod, @SecretHash, @Jwks, @dpop, @enabled, @now)",
            new { client.ClientId, client.Name, client.AuthenticationMethod, client.SecretHash, client.Jwks, dpop = client.RequireDpop ? 1 : 0, enabled = client.Enabled ? 1 : 0, now = Db.Ms(_time.GetUtcNow()) },
            auditRecord,
            cancellationToken);
    }

    public async Task<IReadOnlyList<ProtectedResource>> ListResourcesAsync(CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<ResourceRow>("SELECT id AS Id, name AS Name, resource AS Resource, scopes AS Scopes FROM as_resources ORDER BY name"), cancellationToken).ConfigureAwait(false))
            .Select(r => new ProtectedResource { Id = r.Id, Name = r.Name, Resource = r.Resource, Scopes = JsonSerializer.Deserialize<List<ResourceScope>>(r.Scopes) ?? [] })];

    public Task<bool> CreateResourceAsync(ProtectedResource resource, CancellationToken cancellationToken, AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return _audit.ChangeOneAsync("INSERT INTO as_resources (id, name, resource, scopes) VALUES (@Id, @Name, @Resource, @scopes)", new { resource.Id, resource.Name, resource.Resource, scopes = JsonSerializer.Serialize(resource.Scopes) }, auditRecord, cancellationToken);
    }

    public async Task<Account?> FindAccountAsync(string tenantId, string issuer, string subject, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<AccountRow>($"SELECT {AccountColumns} FROM as_accounts WHERE tenant_id = @tenantId AND issuer = @issuer AND subject = @subject", new { tenantId, issuer, subject }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<Account> GetOrCreateAccountAsync(Account candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);

        // Insert-if-absent then read: two first requests for one subject end with one account.
        await _db.RunAsync(
            c => c.ExecuteAsync(
                "INSERT INTO as_accounts (id, tenant_id, issuer, subject, email, created_at) VALUES (@Id, @TenantId, @Issuer, @Subject, @Email, @createdAt) ON CONFLICT (tenant_id, issuer, subject) DO NOTHING",
                new { candidate.Id, candidate.TenantId, candidate.Issuer, candidate.Subject, candidate.Email, createdAt = Db.Ms(candidate.CreatedAt) }),
            cancellationToken).ConfigureAwait(false);
        return await FindAccountAsync(candidate.TenantId, candidate.Issuer, candidate.Subject, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("The account could not be read back after insert.");
    }

}
