using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Ema.Server.Audit;
using Ema.Server.Security;
using Microsoft.Extensions.Logging;

namespace Ema.Storage.Stores;

/// <summary>
/// The seal of the audit blocks: HMAC-SHA256 (RFC 2104) over a block's first and last sequence numbers and its last
/// hash, which the chain binds to every record before it. The hash chain alone proves nothing against someone who can
/// write the database and re-hashes every record after an edit; with seals that rewrite also needs this key.
/// </summary>
/// <remarks>
/// The key lives outside the database — <c>audit-seal.key</c> beside it, encrypted by the data folder's key ring together
/// with the first record it seals — so nothing done through the database can remove it or move the start of sealing:
/// clearing every seal and deleting a key row would otherwise pass for a trail that was never sealed. A key is made on
/// its own only for an empty trail; a trail with records and no key file needs the file back, or an operator's explicit
/// <c>ema audit reseal</c> (<see cref="CreateAfterLossAsync"/>): sealing then starts at the next record, verification
/// says so, and the first sealed record says why. Processes that write the trail hold a shared lock on
/// <see cref="LockFileName"/>; reseal needs it exclusively, so it never runs beside a writer holding the old key.
/// </remarks>
internal sealed partial class AuditSeal : IDisposable
{
    /// <summary>The lock file beside the key: shared by every process that writes the trail, exclusive for reseal.</summary>
    public const string LockFileName = "audit-seal.lock";

    /// <summary>The key file's name, in the database's folder.</summary>
    public const string FileName = "audit-seal.key";

    /// <summary>
    /// The head mark's name, beside the key: the newest record made durable (its number and hash, under the seal key),
    /// rewritten at most once a second and at shutdown, so a trail cut back while no Ema process runs is found too.
    /// </summary>
    public const string HeadFileName = "audit-seal.head";
    private static ReadOnlySpan<byte> HeadLabel => "ema-audit-head-v1"u8;

    private const string Purpose = "Ema.AuditSeal.v1";
    private const int KeyBytes = 32;
    private const int HashBytes = 32;
    private const int FirstPayloadBytes = KeyBytes + 8 + 1 + HashBytes; // key, first sealed record, flags, the anchor's hash
    private const int PayloadBytes = FirstPayloadBytes + 8; // … and when the key was made (Unix ms)
    private const byte EarlierSealsLostFlag = 1;
    private const byte AnchorHashedFlag = 2; // the record before the first sealed one has a hash (not a pre-chain record)
    private static ReadOnlySpan<byte> Label => "ema-audit-seal-v1"u8;
    private readonly byte[] _key;
    private readonly string? _anchorHash;
    private readonly string _headPath;
    private FileStream? _writerLock;

    private AuditSeal(byte[] key, long sealedFrom, bool earlierSealsLost, string? anchorHash, DateTimeOffset? createdAt, string headPath)
    {
        _key = key;
        SealedFrom = sealedFrom;
        EarlierSealsLost = earlierSealsLost;
        _anchorHash = anchorHash;
        CreatedAt = createdAt;
        _headPath = headPath;
    }

    /// <summary>When the key was made (null for a key file of the first version, which did not record it).</summary>
    public DateTimeOffset? CreatedAt { get; }

    /// <summary>The value a head mark holds for a record written before the chain existed (it has no hash).</summary>
    public const string UnhashedMark = "unhashed";

    public void Dispose() => Interlocked.Exchange(ref _writerLock, null)?.Dispose();

    /// <summary>The first record whose block is sealed with this key: records before it were written before it existed.</summary>
    public long SealedFrom { get; }

    /// <summary>Made by <c>ema audit reseal</c> after the previous key was lost: blocks it sealed can no longer be checked.</summary>
    public bool EarlierSealsLost { get; }

    /// <summary>Whether <paramref name="sequence"/> is the last record written before sealing began (the anchor).</summary>
    public bool IsAnchor(long sequence) => sequence == SealedFrom - 1;

    /// <summary>The anchor's hash is the one it had when the key was made (null: a record from before the chain).</summary>
    public bool AnchorMatches(string? hash) => string.Equals(hash, _anchorHash, StringComparison.Ordinal);

    public byte[] Compute(long firstSequence, long lastSequence, string lastHash) =>
        Mac(Label, string.Create(CultureInfo.InvariantCulture, $"\n{firstSequence}\n{lastSequence}\n{lastHash}"));

    /// <summary>
    /// Records the newest durable record as the head mark (written whole under a name of its own, then moved into place).
    /// Only forward: another process on the same data folder (the IdP and <c>ema admin</c>) may have marked a newer one.
    /// Between that look and the move a slower process can still put an older mark back — which only weakens the mark.
    /// </summary>
    public void WriteHeadMark(long sequence, string hash)
    {
        if (ReadHeadMark(out var current) == HeadMarkState.Valid && current!.Value.Sequence >= sequence)
        {
            return;
        }

        ReplaceHeadMark(sequence, hash);
    }

    /// <summary>
    /// The head mark: the newest record an Ema process made durable, as it recorded it. Every key is made with one (the
    /// record before its first sealed one), so a missing mark is as suspect as one that does not verify under the key.
    /// </summary>
    public HeadMarkState ReadHeadMark(out (long Sequence, string Hash)? mark)
    {
        mark = null;
        string text;
        try
        {
            if (!File.Exists(_headPath))
            {
                return HeadMarkState.Missing;
            }

            var file = new FileInfo(_headPath);
            if (file.Length > 256)
            {
                return HeadMarkState.Unverifiable;
            }

            text = File.ReadAllText(_headPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return HeadMarkState.Unreadable;
        }

        var parts = text.Trim().Split(' ');
        if (parts is not [var number, var hash, var mac] || !long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) || mac.Length != 64 || !mac.All(char.IsAsciiHexDigitLower)
            || !CryptographicOperations.FixedTimeEquals(MarkMac(sequence, hash), Convert.FromHexString(mac)))
        {
            return HeadMarkState.Unverifiable;
        }

        mark = (sequence, hash);
        return HeadMarkState.Valid;
    }

    private byte[] Mac(ReadOnlySpan<byte> label, string text)
    {
        var payload = new byte[label.Length + Encoding.UTF8.GetByteCount(text)];
        label.CopyTo(payload);
        Encoding.UTF8.GetBytes(text, payload.AsSpan(label.Length));
        return HMACSHA256.HashData(_key, payload);
    }

    public bool Matches(long firstSequence, long lastSequence, string lastHash, byte[] seal) =>
        CryptographicOperations.FixedTimeEquals(Compute(firstSequence, lastSequence, lastHash), seal);

    /// <summary>
    /// Loads the key file beside the database, or makes one — sealing from the record after the current head — for a
    /// trail without sealed blocks (a new data folder, or one written before sealing). A trail with sealed blocks and no
    /// key file stops the start: a new key would make a rewritten trail look sealed only from now on. A file this key
    /// ring cannot decrypt stops it too: writing on unsealed would hide a replaced key ring.
    /// </summary>
    public static async Task<AuditSeal> LoadOrCreateAsync(string databasePath, SqliteDatabase db, IKeyProtector protector, ILogger logger, TimeProvider time, CancellationToken cancellationToken)
    {
        var path = KeyPath(databasePath);
        if (!File.Exists(path))
        {
            // Made under the exclusive lock (two processes starting on a new data folder make one key and one mark),
            // and only for an empty trail: whether a trail "was never sealed" cannot be told from the database, which
            // whoever removed the key file could also have stripped of its seals.
            using var exclusive = await LockExclusiveAsync(path, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            if (!File.Exists(path))
            {
                var (head, _) = await SqliteAuditLog.ReadHeadAsync(db, cancellationToken).ConfigureAwait(false);
                if (head != 0)
                {
                    throw new InvalidOperationException($"The audit trail has {head} records but no seal key file ({path}). If the file was lost, restore it from the data folder's backup (with the key ring). If this data folder was written by an Ema version without seals, or the key is lost for good, run 'ema audit reseal' with the IdP stopped: sealing then starts at the next record, and 'ema audit verify' reports the records before it as not covered by a seal.");
                }

                await CreateAsync(path, db, protector, earlierSealsLost: false, time, cancellationToken).ConfigureAwait(false);
                Log.AuditSealKeyCreated(logger, 1);
            }
        }

        var seal = Read(path, protector);
        seal._writerLock = OpenLock(path, exclusive: false);
        return seal;
    }

    /// <summary>The key file's seal for a reader (no lock, nothing made); null when there is no key file.</summary>
    public static AuditSeal? LoadIfPresent(string databasePath, IKeyProtector protector)
    {
        var path = KeyPath(databasePath);
        return File.Exists(path) ? Read(path, protector) : null;
    }

    private static FileStream OpenLock(string keyPath, bool exclusive)
    {
        // flock(2) on Unix: FileShare.None takes it exclusively, any other share mode shared (for read access); released
        // when the process ends, however it ends.
        var lockPath = Path.Combine(Path.GetDirectoryName(keyPath) ?? ".", LockFileName);
        var options = OwnerOnly.FileOptions(FileMode.OpenOrCreate);
        options.Access = FileAccess.Read;
        options.Share = exclusive ? FileShare.None : FileShare.ReadWrite | FileShare.Delete;
        return new FileStream(lockPath, options);
    }

    private static async Task<FileStream> LockExclusiveAsync(string keyPath, TimeSpan wait, CancellationToken cancellationToken)
    {
        var until = Environment.TickCount64 + (long)wait.TotalMilliseconds;
        while (true)
        {
            try
            {
                return OpenLock(keyPath, exclusive: true);
            }
            catch (IOException) when (Environment.TickCount64 < until)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// <c>ema audit reseal</c>: a new key after the old one was lost, sealing from the record after the head; the blocks
    /// the lost key sealed are reported as not checkable. Refused while a key file exists.
    /// </summary>
    public static async Task<long> CreateAfterLossAsync(string databasePath, SqliteDatabase db, IKeyProtector protector, TimeProvider time, CancellationToken cancellationToken)
    {
        var path = KeyPath(databasePath);
        FileStream exclusive;
        try
        {
            exclusive = OpenLock(path, exclusive: true);
        }
        catch (IOException)
        {
            throw new InvalidOperationException($"An Ema process is writing this data folder's audit trail (it holds {LockFileName}): stop the IdP and any 'ema admin' command on this folder, then run 'ema audit reseal' again.");
        }

        using (exclusive)
        {
            if (File.Exists(path))
            {
                throw new InvalidOperationException($"The audit trail's seal key file exists ({path}): there is nothing to reseal.");
            }

            return await CreateAsync(path, db, protector, earlierSealsLost: true, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string KeyPath(string databasePath) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(databasePath)) ?? ".", FileName);

    private static string HeadPath(string keyPath) => Path.Combine(Path.GetDirectoryName(keyPath) ?? ".", HeadFileName);

    // Called with the exclusive lock held: no other process writes the trail, the key or the mark meanwhile.
    private static async Task<long> CreateAsync(string path, SqliteDatabase db, IKeyProtector protector, bool earlierSealsLost, TimeProvider time, CancellationToken cancellationToken)
    {
        // The head: the first sealed record follows it, and its hash — which binds every record before it — goes into the
        // file, so a history replaced before sealing began (or cut back) is found (SqliteAuditLog.VerifyChainAsync).
        var (last, lastHash) = await SqliteAuditLog.ReadHeadAsync(db, cancellationToken).ConfigureAwait(false);
        var sealedFrom = last + 1;
        var plain = new byte[PayloadBytes];
        RandomNumberGenerator.Fill(plain.AsSpan(0, KeyBytes));
        BinaryPrimitives.WriteInt64BigEndian(plain.AsSpan(KeyBytes), sealedFrom);
        plain[KeyBytes + 8] = (byte)((earlierSealsLost ? EarlierSealsLostFlag : 0) | (lastHash is null ? 0 : AnchorHashedFlag));
        if (lastHash is not null)
        {
            Convert.FromHexString(lastHash, plain.AsSpan(KeyBytes + 9), out _, out _);
        }

        BinaryPrimitives.WriteInt64BigEndian(plain.AsSpan(FirstPayloadBytes), time.GetUtcNow().ToUnixTimeMilliseconds());
        var protectedKey = protector.ForPurpose(Purpose).Protect(plain); // zeroes the plaintext

        // Written whole, readable by this user only, never over another key; then the first head mark — the record
        // before the first sealed one — so that from now on a missing mark is itself a finding. A mark of an earlier key
        // is replaced: it cannot be checked under the new one.
        OwnerOnly.WriteWhole(path, protectedKey, replace: false);
        using var seal = Read(path, protector);
        seal.ReplaceHeadMark(last, last == 0 ? AuditChain.Genesis : lastHash ?? UnhashedMark);
        return sealedFrom;
    }

    /// <summary>Writes the head mark whatever is there (a new key's first mark; <see cref="WriteHeadMark"/> after its check).</summary>
    private void ReplaceHeadMark(long sequence, string hash) =>
        OwnerOnly.WriteWhole(_headPath, Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{sequence} {hash} {Convert.ToHexStringLower(MarkMac(sequence, hash))}\n")), replace: true);

    private byte[] MarkMac(long sequence, string hash) => Mac(HeadLabel, string.Create(CultureInfo.InvariantCulture, $"\n{sequence}\n{hash}"));

    private static AuditSeal Read(string path, IKeyProtector protector)
    {
        byte[] plain;
        try
        {
            plain = protector.ForPurpose(Purpose).Unprotect(File.ReadAllBytes(path));
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException($"The audit trail's seal key ({path}) cannot be decrypted with this data folder's Data Protection key ring: the key ring was replaced, or it is encrypted with a certificate that is not configured (Ema:KeyEncryptionCertificatePath). {ex.Message}", ex);
        }

        try
        {
            if (plain.Length is not (PayloadBytes or FirstPayloadBytes))
            {
                throw new InvalidOperationException($"The audit trail's seal key ({path}) is not one this version wrote.");
            }

            var flags = plain[KeyBytes + 8];
            var anchor = (flags & AnchorHashedFlag) != 0 ? Convert.ToHexStringLower(plain.AsSpan(KeyBytes + 9, HashBytes)) : null;
            DateTimeOffset? createdAt = plain.Length == PayloadBytes ? DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(plain.AsSpan(FirstPayloadBytes))) : null;
            return new AuditSeal(plain[..KeyBytes], BinaryPrimitives.ReadInt64BigEndian(plain.AsSpan(KeyBytes)), (flags & EarlierSealsLostFlag) != 0, anchor, createdAt, HeadPath(path));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Created the audit trail's seal key: blocks are sealed from record {SealedFrom} on (once per data folder)")]
        public static partial void AuditSealKeyCreated(ILogger logger, long sealedFrom);
    }
}

/// <summary>The operator's side of the audit seal (<c>ema audit reseal</c>).</summary>
public static class AuditSealKeys
{
    /// <summary>
    /// After the seal key file is lost for good: migrates the database at <paramref name="databasePath"/> and makes a new
    /// key sealing from the record after the head; verification then reports the earlier seals as not checkable. Returns
    /// that first record. Refused while a key file exists.
    /// </summary>
    public static async Task<long> ResealAfterLossAsync(string databasePath, IKeyProtector protector, ILoggerFactory loggers, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        var db = new SqliteDatabase(new SqliteStorageOptions { DatabasePath = databasePath }, time, loggers.CreateLogger<SqliteDatabase>());
        await db.MigrateAsync(cancellationToken).ConfigureAwait(false);
        return await AuditSeal.CreateAfterLossAsync(databasePath, db, protector, time, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>What the head mark file holds, as read.</summary>
internal enum HeadMarkState
{
    Valid,
    Missing,
    Unverifiable,
    Unreadable,
}
