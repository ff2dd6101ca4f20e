using Dapper;
using Ema.Server.Stores;

namespace Ema.Storage.Stores;

/// <summary>Signing keys in SQLite; the private key column holds Data Protection ciphertext only.</summary>
public sealed class SqliteSigningKeyStore : ISigningKeyStore
{
    private readonly SqliteDatabase _db;
    private readonly SqliteAuditLog _audit;

    public SqliteSigningKeyStore(SqliteDatabase db, SqliteAuditLog audit)
    {
        _db = db;
        _audit = audit;
    }

    private sealed record Row(string Kid, string Purpose, string Algorithm, string Status, byte[] ProtectedKey, long CreatedAt, long? RetiredAt);

    public async Task<IReadOnlyList<StoredSigningKey>> LoadAsync(string purpose, CancellationToken cancellationToken) =>
        [.. (await _db.RunAsync(c => c.QueryAsync<Row>("SELECT kid AS Kid, purpose AS Purpose, algorithm AS Algorithm, status AS Status, protected_key AS ProtectedKey, created_at AS CreatedAt, retired_at AS RetiredAt FROM signing_keys WHERE purpose = @purpose", new { purpose }), cancellationToken).ConfigureAwait(false))
            .Select(r => new StoredSigningKey(r.Kid, r.Purpose, r.Algorithm, r.Status, r.ProtectedKey, Db.Time(r.CreatedAt), Db.Time(r.RetiredAt)))];

    public Task ReplaceAsync(string purpose, IReadOnlyList<StoredSigningKey> keys, CancellationToken cancellationToken, Ema.Server.Audit.AuditEvent? auditRecord = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return _audit.ChangeAsync(
            async (c, t) =>
            {
                await c.ExecuteAsync("DELETE FROM signing_keys WHERE purpose = @purpose", new { purpose }, t).ConfigureAwait(false);
                foreach (var key in keys)
                {
                    await c.ExecuteAsync(
                        "INSERT INTO signing_keys (purpose, kid, algorithm, status, protected_key, created_at, retired_at) VALUES (@purpose, @KeyId, @Algorithm, @Status, @ProtectedPrivateKey, @createdAt, @retiredAt)",
                        new { purpose, key.KeyId, key.Algorithm, key.Status, key.ProtectedPrivateKey, createdAt = Db.Ms(key.CreatedAt), retiredAt = Db.Ms(key.RetiredAt) },
                        t).ConfigureAwait(false);
                }

                return keys.Count;
            },
            _ => true,
            auditRecord,
            cancellationToken);
    }
}
