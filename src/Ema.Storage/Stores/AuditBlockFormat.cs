using System.Buffers;
using System.Text.Json;
using Ema.Server.Audit;

namespace Ema.Storage.Stores;

/// <summary>One stored audit record with its place in the chain.</summary>
/// <param name="Sequence">Position in the chain (1, 2, …).</param>
/// <param name="PreviousHash">The previous record's hash (null for records written before the chain existed).</param>
/// <param name="Hash">This record's hash (null for records written before the chain existed).</param>
/// <param name="Event">The record.</param>
public sealed record AuditRecord(long Sequence, string? PreviousHash, string? Hash, AuditEvent Event);

/// <summary>
/// The text of an audit block: one line per record, each line the record's canonical JSON array — the exact bytes the
/// chain hash is computed over (<see cref="AuditChain.WriteCanonical"/>) — with the hash appended as a last element.
/// Readable with any JSON tool (and SQLite's <c>json_*</c> functions), and written with one serialization per record.
/// Lines migrated from the row layout (0007) carry the same values in SQLite's JSON spelling; verification recomputes
/// the canonical bytes from the values, so both verify.
/// </summary>
internal static class AuditBlockFormat
{
    /// <summary>Elements of a line: the 18 canonical ones and the hash.</summary>
    private const int Elements = 19;

    /// <summary>
    /// Appends <paramref name="canonical"/> (a JSON array) to <paramref name="block"/> as one line with
    /// <paramref name="hash"/> added as the array's last element.
    /// </summary>
    public static void AppendLine(ArrayBufferWriter<byte> block, ReadOnlySpan<byte> canonical, string hash)
    {
        // canonical ends with ']'; the line is canonical[..^1] + ,"<64 hex>"] + \n
        var line = block.GetSpan(canonical.Length + hash.Length + 4);
        canonical[..^1].CopyTo(line);
        var at = canonical.Length - 1;
        line[at++] = (byte)',';
        line[at++] = (byte)'"';
        at += System.Text.Encoding.ASCII.GetBytes(hash, line[at..]);
        line[at++] = (byte)'"';
        line[at++] = (byte)']';
        line[at++] = (byte)'\n';
        block.Advance(at);
    }

    /// <summary>
    /// The records of a block in order. A line that does not parse, or a block without records, is returned as null (it
    /// was edited by hand: the chain check reports it; listings skip it).
    /// </summary>
    public static IEnumerable<AuditRecord?> ReadLines(Microsoft.Data.Sqlite.SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? [null] : ReadLines(reader.GetFieldValue<byte[]>(ordinal));

    /// <inheritdoc cref="ReadLines(Microsoft.Data.Sqlite.SqliteDataReader, int)"/>
    public static IEnumerable<AuditRecord?> ReadLines(byte[] block)
    {
        var start = 0;
        while (start < block.Length)
        {
            var end = Array.IndexOf(block, (byte)'\n', start);
            if (end < 0)
            {
                end = block.Length;
            }

            if (end > start)
            {
                yield return TryParse(block.AsSpan(start, end - start));
            }

            start = end + 1;
        }
    }

    private static AuditRecord? TryParse(ReadOnlySpan<byte> line)
    {
        try
        {
            var json = new Utf8JsonReader(line);
            if (!json.Read() || json.TokenType != JsonTokenType.StartArray)
            {
                return null;
            }

            var values = new object?[Elements];
            for (var i = 0; i < Elements; i++)
            {
                if (!json.Read())
                {
                    return null;
                }

                values[i] = json.TokenType switch
                {
                    JsonTokenType.Number => json.GetInt64(),
                    JsonTokenType.String => json.GetString(),
                    JsonTokenType.Null => null,
                    _ => throw new FormatException("unexpected element"),
                };
            }

            if (!json.Read() || json.TokenType != JsonTokenType.EndArray || values[0] is not long sequence || values[2] is not string id || values[3] is not long time
                || values[4] is not string type || values[5] is not string outcome)
            {
                return null;
            }

            var e = new AuditEvent
            {
                Id = id, Time = DateTimeOffset.FromUnixTimeMilliseconds(time), Type = type, Outcome = outcome, Action = Text(values[6]), ErrorId = Text(values[7]),
                Reason = Text(values[8]), ClientId = Text(values[9]), Subject = Text(values[10]), Resource = Text(values[11]), Audience = Text(values[12]),
                Scope = Text(values[13]), TokenId = Text(values[14]), ParentTokenId = Text(values[15]), SessionId = Text(values[16]), RemoteAddress = Text(values[17]),
            };
            return new AuditRecord(sequence, Text(values[1]), Text(values[18]), e);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private static string? Text(object? value) => value as string ?? (value is null ? null : throw new FormatException("expected text"));
}

/// <summary>
/// A Bloom filter over the lookup keys of one audit block (id, user, client, resource and token ids), so a search for
/// one user or one decision reads only the blocks that may hold it. About 10 bits and 7 probes per key (≈ 1 % false
/// positives; a false positive only costs decoding one block). Keys are hashed with FNV-1a and a 64-bit finalizer —
/// stable across processes, unlike <see cref="HashCode"/>.
/// </summary>
internal static class AuditKeyFilter
{
    private const int Probes = 7;
    private const int BitsPerKey = 10;

    /// <summary>Adds the lookup keys of <paramref name="e"/>: what the audit searches filter on by equality.</summary>
    public static void AddKeys(AuditEvent e, List<ulong> keys)
    {
        foreach (var key in (ReadOnlySpan<string?>)[e.Id, e.Subject, e.ClientId, e.Resource, e.TokenId, e.ParentTokenId])
        {
            if (key is not null)
            {
                keys.Add(Key(key));
            }
        }
    }

    public static ulong Key(string value)
    {
        var hash = 14695981039346656037UL;
        for (var i = 0; i < value.Length; i++)
        {
            // As stored: Utf8JsonWriter writes a lone surrogate as U+FFFD, and the key must be that of the stored value.
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                hash = (hash ^ c) * 1099511628211UL;
                c = value[++i];
            }
            else if (char.IsSurrogate(c))
            {
                c = '\uFFFD';
            }

            hash = (hash ^ c) * 1099511628211UL;
        }

        // MurmurHash3's fmix64: spreads every input bit over the whole word, so the two probe seeds below are independent.
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53UL;
        hash ^= hash >> 33;
        return hash;
    }

    public static byte[] Build(List<ulong> keys)
    {
        var bits = Math.Max(64, (keys.Count * BitsPerKey + 63) / 64 * 64);
        var filter = new byte[bits / 8];
        foreach (var key in keys)
        {
            var (h1, h2) = Seeds(key);
            for (uint i = 0; i < Probes; i++)
            {
                var bit = (int)((h1 + (i * h2)) % (uint)bits);
                filter[bit >> 3] |= (byte)(1 << (bit & 7));
            }
        }

        return filter;
    }

    public static bool MayContain(byte[] filter, ulong key)
    {
        // Empty, or larger than any filter the writer makes (a block of 512 records needs 4 KB): not a usable filter.
        if (filter.Length == 0 || filter.Length > 1 << 20)
        {
            return true;
        }

        var bits = filter.Length * 8;

        var (h1, h2) = Seeds(key);
        for (uint i = 0; i < Probes; i++)
        {
            var bit = (int)((h1 + (i * h2)) % (uint)bits);
            if ((filter[bit >> 3] & (1 << (bit & 7))) == 0)
            {
                return false;
            }
        }

        return true;
    }

    // Kirsch–Mitzenmacher double hashing: probe i is h1 + i·h2.
    private static (uint H1, uint H2) Seeds(ulong key) => ((uint)key, (uint)(key >> 32) | 1);
}
