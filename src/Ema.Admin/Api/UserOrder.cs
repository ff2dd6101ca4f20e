using System.Text;

namespace Ema.Admin.Api;

/// <summary>
/// The order users are listed and paged in: by username, in Unicode code point order — the order of SQLite's BINARY
/// collation over UTF-8, which the store's range read uses. <see cref="string.CompareOrdinal(string, string)"/> compares
/// UTF-16 code units instead and disagrees for names mixing characters above U+FFFF with ones in U+E000–U+FFFF; a
/// reader paging with the last username it received must compare as the server sorts.
/// </summary>
public static class UserOrder
{
    public static int Compare(string? x, string? y)
    {
        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }

        return Encoding.UTF8.GetBytes(x).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y));
    }

    /// <summary>As a comparer, for sorting.</summary>
    public static IComparer<string> Comparer { get; } = Comparer<string>.Create(Compare);
}
