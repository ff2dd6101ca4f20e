using Dapper;
using Ema.Server.Audit;
using Ema.Server.Policy;

namespace Ema.Storage.Stores;

/// <summary>Policy versions in SQLite (migration 0004).</summary>
public sealed class SqlitePolicyStore(SqliteDatabase db, TimeProvider time, SqliteAuditLog audit) : IPolicyStore
{
    private const string InsertSql = "INSERT INTO policy_versions (yaml, sha256, created_at, created_by, comment) VALUES (@yaml, @sha, @now, @createdBy, @comment) RETURNING ";

    private const string Columns = "version AS Version, yaml AS Yaml, sha256 AS Sha256, created_at AS CreatedAt, created_by AS CreatedBy, comment AS Comment";

    private sealed record Row(long Version, string Yaml, string Sha256, long CreatedAt, string CreatedBy, string? Comment)
    {
        public PolicyVersion ToModel() => new(Version, Yaml, Sha256, Db.Time(CreatedAt), CreatedBy, Comment);
    }

    public async Task<PolicyVersion?> GetCurrentAsync(CancellationToken cancellationToken) =>
        (await db.RunAsync(c => c.QuerySingleOrDefaultAsync<Row>($"SELECT {Columns} FROM policy_versions ORDER BY version DESC LIMIT 1"), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<PolicyVersion?> GetAsync(long version, CancellationToken cancellationToken) =>
        (await db.RunAsync(c => c.QuerySingleOrDefaultAsync<Row>($"SELECT {Columns} FROM policy_versions WHERE version = @version", new { version }), cancellationToken).ConfigureAwait(false))?.ToModel();

    public async Task<IReadOnlyList<PolicyVersion>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await db.RunAsync(c => c.QueryAsync<Row>($"SELECT {Columns} FROM policy_versions ORDER BY version"), cancellationToken).ConfigureAwait(false)).Select(r => r.ToModel())];

    public async Task<PolicyVersion> AddAsync(string yaml, string createdBy, string? comment, Func<PolicyVersion, AuditEvent>? auditRecord, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var parameters = new { yaml, sha = PolicyAdministration.Hash(yaml), now = Db.Ms(time.GetUtcNow()), createdBy, comment };
        if (auditRecord is null)
        {
            return (await db.RunAsync(c => c.QuerySingleAsync<Row>(InsertSql + Columns, parameters), cancellationToken).ConfigureAwait(false)).ToModel();
        }

        // The version and the record of who put it in force commit together, or not at all.
        return await audit.WriteWithChangeAsync(
            async (c, t) => (await c.QuerySingleAsync<Row>(InsertSql + Columns, parameters, t).ConfigureAwait(false)).ToModel(),
            auditRecord,
            cancellationToken).ConfigureAwait(false);
    }
}
