using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

namespace Ema.IntegrationTests.Audit;

/// <summary>
/// What an attacker with write access to the database file can do to the audit blocks: edit, delete or move a record's
/// line inside its block, with plain SQL and a JSON editor. The chain check must notice every one of them.
/// </summary>
internal static class AuditTamper
{
    // Positions in a stored line: [seq, prev_hash, id, time, type, outcome, action, error_id, reason, client_id, subject, …, hash].
    public const int Sequence = 0;
    public const int Outcome = 5;
    public const int Reason = 8;
    public const int Subject = 10;
    public const int Hash = 18;

    /// <summary>Rewrites record <paramref name="sequence"/>'s line with <paramref name="edit"/>; null deletes the line.</summary>
    public static Task EditAsync(string databasePath, long sequence, Func<JsonArray, JsonArray?> edit) =>
        RewriteBlockAsync(databasePath, sequence, lines =>
        {
            var at = lines.FindIndex(l => l[Sequence]!.GetValue<long>() == sequence);
            var edited = edit(lines[at]);
            if (edited is null)
            {
                lines.RemoveAt(at);
            }
            else
            {
                lines[at] = edited;
            }
        });

    /// <summary>Inserts <paramref name="line"/> right after record <paramref name="sequence"/>, in that record's block.</summary>
    public static Task InsertAfterAsync(string databasePath, long sequence, JsonArray line) =>
        RewriteBlockAsync(databasePath, sequence, lines => lines.Insert(lines.FindIndex(l => l[Sequence]!.GetValue<long>() == sequence) + 1, line));

    /// <summary>Swaps everything but the sequence numbers of two records (in one block or in two).</summary>
    public static async Task SwapContentsAsync(string databasePath, long first, long second)
    {
        JsonArray? a = null, b = null;
        await RewriteBlockAsync(databasePath, first, lines => a = lines.Single(l => l[Sequence]!.GetValue<long>() == first));
        await RewriteBlockAsync(databasePath, second, lines => b = lines.Single(l => l[Sequence]!.GetValue<long>() == second));
        await EditAsync(databasePath, first, _ => Renumbered(b!, first));
        await EditAsync(databasePath, second, _ => Renumbered(a!, second));
    }

    private static JsonArray Renumbered(JsonArray line, long sequence)
    {
        var copy = (JsonArray)JsonNode.Parse(line.ToJsonString())!;
        copy[Sequence] = sequence;
        return copy;
    }

    /// <summary>
    /// The thorough forgery: edits record <paramref name="sequence"/> and then re-hashes every record from the first on,
    /// updating each block's last hash — what someone who knows the chain's format can do to an unkeyed chain. Only a
    /// hash kept elsewhere (<c>ema audit verify --expect</c>) notices it.
    /// </summary>
    public static async Task EditAndRehashAsync(string databasePath, long sequence, Action<JsonArray> edit)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync();
        var blocks = new List<(long First, List<JsonArray> Lines)>();
        await using (var read = connection.CreateCommand())
        {
            read.CommandText = "SELECT first_seq, records FROM audit_blocks ORDER BY first_seq";
            await using var reader = await read.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                blocks.Add((reader.GetInt64(0), [.. Encoding.UTF8.GetString(reader.GetFieldValue<byte[]>(1)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => (JsonArray)JsonNode.Parse(l)!)]));
            }
        }

        var previous = Ema.Server.Audit.AuditChain.Genesis;
        foreach (var (first, lines) in blocks)
        {
            foreach (var line in lines)
            {
                if (line[Sequence]!.GetValue<long>() == sequence)
                {
                    edit(line);
                }

                line[1] = previous;
                var record = new Ema.Server.Audit.AuditEvent
                {
                    Id = line[2]!.GetValue<string>(), Time = DateTimeOffset.FromUnixTimeMilliseconds(line[3]!.GetValue<long>()), Type = line[4]!.GetValue<string>(), Outcome = line[5]!.GetValue<string>(),
                    Action = Text(line[6]), ErrorId = Text(line[7]), Reason = Text(line[8]), ClientId = Text(line[9]), Subject = Text(line[10]), Resource = Text(line[11]), Audience = Text(line[12]),
                    Scope = Text(line[13]), TokenId = Text(line[14]), ParentTokenId = Text(line[15]), SessionId = Text(line[16]), RemoteAddress = Text(line[17]),
                };
                line[Hash] = previous = Ema.Server.Audit.AuditChain.Hash(line[Sequence]!.GetValue<long>(), previous, record);
            }

            await using var write = connection.CreateCommand();
            write.CommandText = "UPDATE audit_blocks SET records = $records, last_hash = $hash WHERE first_seq = $first";
            write.Parameters.AddWithValue("$records", Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l.ToJsonString() + "\n"))));
            write.Parameters.AddWithValue("$hash", previous);
            write.Parameters.AddWithValue("$first", first);
            Assert.Equal(1, await write.ExecuteNonQueryAsync());
        }
    }

    /// <summary>The first record number of the block that holds record <paramref name="sequence"/>.</summary>
    public static async Task<long> BlockStartAsync(string databasePath, long sequence)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT first_seq FROM audit_blocks WHERE first_seq <= $seq AND last_seq >= $seq";
        command.Parameters.AddWithValue("$seq", sequence);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Any SQL against the database file, as someone with write access to it would run it.</summary>
    public static async Task SqlAsync(string databasePath, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static string? Text(JsonNode? node) => node?.GetValue<string>();

    private static async Task RewriteBlockAsync(string databasePath, long sequence, Action<List<JsonArray>> change)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync();
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT first_seq, records FROM audit_blocks WHERE first_seq <= $seq AND last_seq >= $seq";
        read.Parameters.AddWithValue("$seq", sequence);
        long firstSequence;
        List<JsonArray> lines;
        await using (var reader = await read.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync(), $"no block holds record {sequence}");
            firstSequence = reader.GetInt64(0);
            lines = [.. Encoding.UTF8.GetString(reader.GetFieldValue<byte[]>(1)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => (JsonArray)JsonNode.Parse(l)!)];
        }

        change(lines);
        await using var write = connection.CreateCommand();
        if (lines.Count == 0)
        {
            write.CommandText = "DELETE FROM audit_blocks WHERE first_seq = $first";
        }
        else
        {
            write.CommandText = "UPDATE audit_blocks SET records = $records WHERE first_seq = $first";
            write.Parameters.AddWithValue("$records", Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l.ToJsonString() + "\n"))));
        }

        write.Parameters.AddWithValue("$first", firstSequence);
        Assert.Equal(1, await write.ExecuteNonQueryAsync());
    }
}
