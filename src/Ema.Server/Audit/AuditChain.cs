using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;

namespace Ema.Server.Audit;

/// <summary>
/// The hash chain of the audit trail: <c>hash(n) = SHA-256(canonical JSON of [n, previous hash, every field of
/// record n])</c>, with a fixed genesis value before the first record. Editing a field changes the record's hash;
/// deleting, inserting or reordering records breaks a previous-hash link or the sequence. Pure functions: the store
/// computes the chain inside the transaction that writes the records, so it never forks.
/// </summary>
public static class AuditChain
{
    /// <summary>The previous hash of the first record.</summary>
    public static readonly string Genesis = new('0', 64);

    public static string Hash(long sequence, string previousHash, AuditEvent e)
    {
        ArgumentNullException.ThrowIfNull(previousHash);
        ArgumentNullException.ThrowIfNull(e);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteCanonical(json, sequence, previousHash, e);
        }

        return HashCanonical(buffer.WrittenSpan);
    }

    /// <summary>
    /// Writes the canonical form that is hashed: a JSON array of the sequence number, the previous hash, the id, the
    /// time in Unix milliseconds and the fourteen text fields in declaration order (null where absent). A store may keep
    /// exactly these bytes, so a record is serialized once for both hashing and storage.
    /// </summary>
    public static void WriteCanonical(Utf8JsonWriter json, long sequence, string? previousHash, AuditEvent e)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(e);
        json.WriteStartArray();
        json.WriteNumberValue(sequence);
        WriteText(json, previousHash);
        json.WriteStringValue(e.Id);
        json.WriteNumberValue(e.Time.ToUnixTimeMilliseconds());
        WriteText(json, e.Type);
        WriteText(json, e.Outcome);
        WriteText(json, e.Action);
        WriteText(json, e.ErrorId);
        WriteText(json, e.Reason);
        WriteText(json, e.ClientId);
        WriteText(json, e.Subject);
        WriteText(json, e.Resource);
        WriteText(json, e.Audience);
        WriteText(json, e.Scope);
        WriteText(json, e.TokenId);
        WriteText(json, e.ParentTokenId);
        WriteText(json, e.SessionId);
        WriteText(json, e.RemoteAddress);
        json.WriteEndArray();
    }

    /// <summary>The chain hash of a record's canonical bytes (<see cref="WriteCanonical"/>): lowercase hex SHA-256.</summary>
    public static string HashCanonical(ReadOnlySpan<byte> canonical)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(canonical, digest);
        return Convert.ToHexStringLower(digest);
    }

    private static void WriteText(Utf8JsonWriter json, string? value)
    {
        if (value is null)
        {
            json.WriteNullValue();
        }
        else
        {
            json.WriteStringValue(value);
        }
    }
}

/// <summary>What checking the chain found.</summary>
/// <param name="Records">Records checked.</param>
/// <param name="HeadHash">The last record's hash: keep it elsewhere to detect the removal of records at the end.</param>
/// <param name="FirstBrokenSequence">The first record where the chain breaks, or null when it is intact.</param>
/// <param name="FirstBrokenId">That record's id.</param>
/// <param name="Problem">What is wrong there.</param>
public sealed record AuditChainReport(long Records, string HeadHash, long? FirstBrokenSequence, string? FirstBrokenId, string? Problem)
{
    public bool Intact => FirstBrokenSequence is null;

    /// <summary>
    /// The first record whose block was checked against its seal (every block from it on must carry a valid one); null
    /// when the seals were not checked — the trail has no seal key, or the verifier has no key ring to read it.
    /// </summary>
    public long? SealedFrom { get; init; }

    /// <summary>The seal key was made anew after the previous one was lost (<c>ema audit reseal</c>): seals before <see cref="SealedFrom"/> were not checked.</summary>
    public bool EarlierSealsLost { get; init; }

    /// <summary>When the seal key was made (null: not sealed, or a key file that did not record it).</summary>
    public DateTimeOffset? SealStartedAt { get; init; }

    /// <summary>The last record checked: the head when the trail is intact (its hash is <see cref="HeadHash"/>).</summary>
    public long HeadSequence { get; init; }

    /// <summary>What the trail recorded about itself (<see cref="AuditEventTypes.AuditIntegrity"/> records), as lines.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}
