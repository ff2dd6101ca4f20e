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
        using var buffer = new MemoryStream(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            json.WriteNumberValue(sequence);
            json.WriteStringValue(previousHash);
            json.WriteStringValue(e.Id);
            json.WriteNumberValue(e.Time.ToUnixTimeMilliseconds());
            foreach (var field in new[] { e.Type, e.Outcome, e.Action, e.ErrorId, e.Reason, e.ClientId, e.Subject, e.Resource, e.Audience, e.Scope, e.TokenId, e.ParentTokenId, e.SessionId, e.RemoteAddress })
            {
                if (field is null)
                {
                    json.WriteNullValue();
                }
                else
                {
                    json.WriteStringValue(field);
                }
            }

            json.WriteEndArray();
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
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
}
