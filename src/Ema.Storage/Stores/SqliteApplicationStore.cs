using System.Text.Json;
using Dapper;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Stores;

namespace Ema.Storage.Stores;

/// <summary>Client and resource applications in SQLite.</summary>
public sealed class SqliteApplicationStore : IApplicationStore
{
    private const string ClientColumns = "client_id AS ClientId, name AS Name, redirect_uris AS RedirectUris, post_logout_redirect_uris AS PostLogoutRedirectUris, auth_method AS AuthMethod, secret_hash AS SecretHash, jwks AS Jwks, require_dpop AS RequireDpop, grant_types AS GrantTypes, token_exchange_allowed AS TokenExchangeAllowed, public_token_exchange_allowed AS PublicTokenExchangeAllowed, enabled AS Enabled";
    private const string ResourceColumns = "id AS Id, display_name AS DisplayName, resource AS Resource, as_issuer AS AsIssuer, scopes AS Scopes, enabled AS Enabled";
    private readonly SqliteDatabase _db;
    private readonly TimeProvider _time;
    private readonly SqliteAuditLog _audit;

    public SqliteApplicationStore(SqliteDatabase db, TimeProvider time, SqliteAuditLog audit)
    {
        _db = db;
        _time = time;
        _audit = audit;
    }

    private sealed record ClientRow(string ClientId, string Name, string RedirectUris, string PostLogoutRedirectUris, string AuthMethod, string? SecretHash, string? Jwks, long RequireDpop, string GrantTypes, long TokenExchangeAllowed, long PublicTokenExchangeAllowed, long Enabled)
    {
        public ClientApplication ToModel() => new()
        {
            ClientId = ClientId,
            Name = Name,
            RedirectUris = Db.List(RedirectUris),
            PostLogoutRedirectUris = Db.List(PostLogoutRedirectUris),
            AuthenticationMethod = AuthMethod,
            SecretHash = SecretHash,
            Jwks = Jwks,
            RequireDpop = RequireDpop != 0,
            GrantTypes = Db.List(GrantTypes),
            TokenExchangeAllowed = TokenExchangeAllowed != 0,
            PublicTokenExchangeAllowed = PublicTokenExchangeAllowed != 0,
            Enabled = Enabled != 0,
        };
    }

    private sealed record ResourceRow(string Id, string DisplayName, string Resource, string AsIssuer, string Scopes, long Enabled)
    {
        public ResourceApplication ToModel() => new()
        {
            Id = Id,
            DisplayName = DisplayName,
            Resource = Resource,
            AuthorizationServerIssuer = AsIssuer,
            Scopes = JsonSerializer.Deserialize<List<ResourceScope>>(Scopes) ?? [],
            Enabled = Enabled != 0,
        };
    }

    public async Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<ClientRow>($"SELECT {ClientColumns} FROM clients WHERE client_id = @clientId", new { clientId }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<IReadOnlyList<ClientApplication>> ListClientsAsync(CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<ClientRow>($"SELECT {ClientColumns} FROM clients ORDER BY client_id"), cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    public Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        return _audit.ChangeOneAsync(
            "INSERT INTO clients (client_id, name, redirect_uris, post_logout_redirect_uris, auth_method, secret_hash, jwks, require_dpop, grant_types, token_exchange_allowed, public_token_exchange_allowed, enabled, created_at) VALUES (@ClientId, @Name, @redirect, @postLogout, @AuthenticationMethod, @SecretHash, @Jwks, @dpop, @grants, @tx, @ptx, @enabled, @now)",
            new
            {
                client.ClientId, client.Name, redirect = Db.List(client.RedirectUris), postLogout = Db.List(client.PostLogoutRedirectUris), client.AuthenticationMethod, client.SecretHash, client.Jwks, dpop = client.RequireDpop ? 1 : 0,
                grants = Db.List(client.GrantTypes), tx = client.TokenExchangeAllowed ? 1 : 0, ptx = client.PublicTokenExchangeAllowed ? 1 : 0, enabled = client.Enabled ? 1 : 0, now = Db.Ms(_time.GetUtcNow()),
            },
            auditRecord,
            cancellationToken);
    }

    public Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE clients SET enabled = @e WHERE client_id = @clientId", new { e = enabled ? 1 : 0, clientId }, auditRecord, cancellationToken);

    public Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE clients SET secret_hash = @secretHash WHERE client_id = @clientId AND auth_method IN (@basic, @post)", new { secretHash, clientId, basic = Ema.Protocol.ClientAuthenticationMethods.ClientSecretBasic, post = Ema.Protocol.ClientAuthenticationMethods.ClientSecretPost }, auditRecord, cancellationToken);

    public Task<bool> SetClientRequireDpopAsync(string clientId, bool requireDpop, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE clients SET require_dpop = @dpop WHERE client_id = @clientId", new { clientId, dpop = requireDpop ? 1 : 0 }, auditRecord, cancellationToken);

    public Task<bool> SetClientJwksAsync(string clientId, string jwks, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync("UPDATE clients SET jwks = @jwks WHERE client_id = @clientId AND auth_method = @method", new { jwks, clientId, method = Ema.Protocol.ClientAuthenticationMethods.PrivateKeyJwt }, auditRecord, cancellationToken);

    public async Task<bool> SetClientRedirectUrisAsync(string clientId, IReadOnlyList<string> redirectUris, CancellationToken cancellationToken) =>
        await _db.RunAsync(c => c.ExecuteAsync("UPDATE clients SET redirect_uris = @uris WHERE client_id = @clientId", new { uris = Db.List(redirectUris), clientId }), cancellationToken).ConfigureAwait(false) == 1;

    public async Task<ResourceApplication?> FindResourceAsync(string resourceId, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<ResourceRow>($"SELECT {ResourceColumns} FROM resources WHERE id = @resourceId", new { resourceId }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<ResourceApplication?> FindResourceByIdentifierAsync(string resource, CancellationToken cancellationToken) =>
        (await _db.RunAsync(c => c.QuerySingleOrDefaultAsync<ResourceRow>($"SELECT {ResourceColumns} FROM resources WHERE resource = @resource", new { resource }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<IReadOnlyList<ResourceApplication>> ListResourcesAsync(CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<ResourceRow>($"SELECT {ResourceColumns} FROM resources ORDER BY display_name"), cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    public Task<bool> CreateResourceAsync(ResourceApplication resource, CancellationToken cancellationToken, AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return _audit.ChangeOneAsync(
            "INSERT INTO resources (id, display_name, resource, as_issuer, scopes, enabled, created_at) VALUES (@Id, @DisplayName, @Resource, @AuthorizationServerIssuer, @scopes, @enabled, @now)",
            new { resource.Id, resource.DisplayName, resource.Resource, resource.AuthorizationServerIssuer, scopes = JsonSerializer.Serialize(resource.Scopes), enabled = resource.Enabled ? 1 : 0, now = Db.Ms(_time.GetUtcNow()) },
            auditRecord,
            cancellationToken);
    }

    public Task<string?> FindClientIdAtResourceAsync(string clientId, string resourceId, CancellationToken cancellationToken) =>
        _db.RunAsync(c => c.QuerySingleOrDefaultAsync<string?>("SELECT client_id_at_resource FROM client_resource_ids WHERE client_id = @clientId AND resource_id = @resourceId", new { clientId, resourceId }), cancellationToken);

    public Task<bool> SetClientIdAtResourceAsync(string clientId, string resourceId, string clientIdAtResource, CancellationToken cancellationToken, AuditEvent? auditRecord = null) =>
        _audit.ChangeOneAsync(
            "INSERT INTO client_resource_ids (client_id, resource_id, client_id_at_resource) VALUES (@clientId, @resourceId, @clientIdAtResource) ON CONFLICT (client_id, resource_id) DO UPDATE SET client_id_at_resource = excluded.client_id_at_resource",
            new { clientId, resourceId, clientIdAtResource },
            auditRecord,
            cancellationToken);
}
