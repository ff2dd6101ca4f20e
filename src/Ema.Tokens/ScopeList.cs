namespace Ema.Tokens;

/// <summary>RFC 6749 §3.3 scope strings: space-delimited, case-sensitive tokens of %x21 / %x23-5B / %x5D-7E.</summary>
public static class ScopeList
{
    /// <summary>Most scope tokens accepted in one string (bounds the work an unauthenticated caller can cause).</summary>
    public const int MaxScopes = 128;

    /// <summary>Parses a scope string (null or empty gives an empty list); duplicates are dropped, order kept.</summary>
    public static bool TryParse(string? scope, out IReadOnlyList<string> scopes)
    {
        scopes = [];
        if (string.IsNullOrEmpty(scope))
        {
            return true;
        }

        var list = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var token in scope.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var c in token)
            {
                if (c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E)
                {
                    return false;
                }
            }

            if (seen.Add(token))
            {
                if (list.Count == MaxScopes)
                {
                    return false;
                }

                list.Add(token);
            }
        }

        scopes = list;
        return true;
    }

    /// <summary>Joins scopes with single spaces.</summary>
    public static string Format(IEnumerable<string> scopes) => string.Join(' ', scopes);
}
