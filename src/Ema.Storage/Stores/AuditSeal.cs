using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Ema.Server.Security;
using Microsoft.Extensions.Logging;

namespace Ema.Storage.Stores;

/// <summary>
/// The seal of the audit blocks: HMAC-SHA256 (RFC 2104) over a block's first and last sequence numbers and its last
/// hash, which the chain binds to every record before it. The hash chain alone proves nothing against someone who can
/// write the database and re-hashes every record after an edit; with seals that rewrite also needs this key, which is
/// stored only encrypted by the data folder's key ring. Blocks from <see cref="SealedFrom"/> on must carry a valid seal.
/// </summary>
internal sealed partial class AuditSeal
{
    private static readonly byte[] Label = "ema-audit-seal-v1"u8.ToArray();
    private readonly byte[] _key;

    public AuditSeal(byte[] key, long sealedFrom)
    {
        _key = key;
        SealedFrom = sealedFrom;
    }

    /// <summary>The first record whose block is sealed: records before it were written before this key existed.</summary>
    public long SealedFrom { get; }

    public byte[] Compute(long firstSequence, long lastSequence, string lastHash)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"\n{firstSequence}\n{lastSequence}\n{lastHash}");
        var payload = new byte[Label.Length + Encoding.UTF8.GetByteCount(text)];
        Label.CopyTo(payload, 0);
        Encoding.UTF8.GetBytes(text, payload.AsSpan(Label.Length));
        return HMACSHA256.HashData(_key, payload);
    }

    public bool Matches(long firstSequence, long lastSequence, string lastHash, byte[] seal) =>
        CryptographicOperations.FixedTimeEquals(Compute(firstSequence, lastSequence, lastHash), seal);

    /// <summary>
    /// Loads the data folder's seal key, or creates it — sealing from the record after the current head — when there is
    /// none. The key and its first record are encrypted together (an authenticated encryption: neither can be swapped).
    /// A key this key ring cannot decrypt stops the start: writing on unsealed would hide a replaced key ring.
    /// </summary>
    public static async Task<AuditSeal> LoadOrCreateAsync(SqliteDatabase db, IKeyProtector protector, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        var keys = protector.ForPurpose("Ema.AuditSeal.v1");
        var stored = await db.RunAsync(c => c.QuerySingleOrDefaultAsync<byte[]?>("SELECT protected_key FROM audit_seal_key WHERE id = 1"), cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            // Inside one IMMEDIATE transaction: the head read and the key row agree even with another process starting.
            var created = await db.TransactAsync(
                async (c, t) =>
                {
                    var head = await c.ExecuteScalarAsync<long?>("SELECT MAX(last_seq) FROM audit_blocks", transaction: t).ConfigureAwait(false) ?? 0;
                    var plain = new byte[40];
                    RandomNumberGenerator.Fill(plain.AsSpan(0, 32));
                    BinaryPrimitives.WriteInt64BigEndian(plain.AsSpan(32), head + 1);
                    var inserted = await c.ExecuteAsync(
                        "INSERT INTO audit_seal_key (id, protected_key, created_at) VALUES (1, @key, @now) ON CONFLICT (id) DO NOTHING",
                        new { key = keys.Protect(plain), now = time.GetUtcNow().ToUnixTimeMilliseconds() },
                        t).ConfigureAwait(false);
                    return inserted == 1 ? head + 1 : (long?)null;
                },
                cancellationToken).ConfigureAwait(false);
            if (created is { } from)
            {
                Log.AuditSealKeyCreated(logger, from);
            }

            stored = await db.RunAsync(c => c.QuerySingleAsync<byte[]>("SELECT protected_key FROM audit_seal_key WHERE id = 1"), cancellationToken).ConfigureAwait(false);
        }

        byte[] key;
        try
        {
            key = keys.Unprotect(stored);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException($"The audit trail's seal key stored in the database cannot be decrypted with this data folder's Data Protection key ring: the key ring was replaced, or it is encrypted with a certificate that is not configured (Ema:KeyEncryptionCertificatePath). {ex.Message}", ex);
        }

        if (key.Length != 40)
        {
            throw new InvalidOperationException("The audit trail's seal key in the database is not one this version wrote.");
        }

        return new AuditSeal(key[..32], BinaryPrimitives.ReadInt64BigEndian(key.AsSpan(32)));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Created the audit trail's seal key: blocks are sealed from record {SealedFrom} on. Once per data folder; seen again, the key was removed from the database")]
        public static partial void AuditSealKeyCreated(ILogger logger, long sealedFrom);
    }
}
