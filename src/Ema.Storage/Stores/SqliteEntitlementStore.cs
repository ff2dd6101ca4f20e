using Dapper;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Stores;

namespace Ema.Storage.Stores;

/// <summary>Entitlements v1 in SQLite.</summary>
public sealed class SqliteEntitlementStore : IEntitlementStore
{
    private const string Columns = "id AS Id, subject_type AS SubjectType, subject_id AS SubjectId, client_id AS ClientId, resource_id AS ResourceId, scopes AS Scopes";
    private readonly SqliteDatabase _db;
    private readonly TimeProvider _time;
    private readonly SqliteAuditLog _audit;

    public SqliteEntitlementStore(SqliteDatabase db, TimeProvider time, SqliteAuditLog audit)
    {
        _db = db;
        _time = time;
        _audit = audit;
    }

    private sealed record Row(string Id, string SubjectType, string SubjectId, string ClientId, string ResourceId, string Scopes)
    {
        public Entitlement ToModel() => new(Id, Enum.Parse<EntitlementSubjectType>(SubjectType), SubjectId, ClientId, ResourceId, Db.List(Scopes));
    }

    public async Task<IReadOnlyList<Entitlement>> ListForClientAsync(string clientId, CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<Row>($"SELECT {Columns} FROM entitlements WHERE client_id = @clientId", new { clientId }), cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    public async Task<IReadOnlyList<Entitlement>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<Row>($"SELECT {Columns} FROM entitlements ORDER BY client_id, resource_id"), cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    public Task<bool> CreateAsync(Entitlement entitlement, CancellationToken cancellationToken, AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(entitlement);
        return _audit.ChangeOneAsync(
            "INSERT INTO entitlements (id, subject_type, subject_id, client_id, resource_id, scopes, created_at) VALUES (@Id, @type, @SubjectId, @ClientId, @ResourceId, @scopes, @now)",
            new { entitlement.Id, type = entitlement.SubjectType.ToString(), entitlement.SubjectId, entitlement.ClientId, entitlement.ResourceId, scopes = Db.List(entitlement.Scopes), now = Db.Ms(_time.GetUtcNow()) },
            auditRecord,
            cancellationToken);
    }
}
