namespace Ema.Storage.Stores;

/// <summary>Column conversions shared by the stores.</summary>
internal static class Db
{
    public static long Ms(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static long? Ms(DateTimeOffset? value) => value?.ToUnixTimeMilliseconds();

    public static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public static DateTimeOffset? Time(long? ms) => ms is null ? null : DateTimeOffset.FromUnixTimeMilliseconds(ms.Value);

    public static string List(IEnumerable<string> values) => string.Join(' ', values);

    public static IReadOnlyList<string> List(string? value) => string.IsNullOrEmpty(value) ? [] : value.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Runs one change statement; true when it changed exactly one row. A constraint failure (a duplicate, an unknown id
    /// behind a foreign key) is its answer, false: SQLite undoes only that statement, so the transaction it runs in — a
    /// group-commit batch shared with other writes — goes on.
    /// </summary>
    public static async Task<bool> ExecuteOneAsync(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction? transaction, string sql, object parameters)
    {
        try
        {
            return await Dapper.SqlMapper.ExecuteAsync(connection, sql, parameters, transaction).ConfigureAwait(false) == 1;
        }
        catch (Exception ex) when (IsUniqueViolation(ex))
        {
            return false;
        }
    }

    public static bool IsUniqueViolation(Exception ex) =>
        ex is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19 }; // SQLITE_CONSTRAINT
}
