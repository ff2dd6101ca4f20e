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

    public static bool IsUniqueViolation(Exception ex) =>
        ex is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19 }; // SQLITE_CONSTRAINT
}
