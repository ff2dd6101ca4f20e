using System.Collections.ObjectModel;

namespace Ema.Protocol;

/// <summary>
/// The parameters of an <c>application/x-www-form-urlencoded</c> request as parsed by <see cref="StrictFormParser"/>:
/// single-valued except for the names the parser was told may repeat (RFC 8707 §2 <c>resource</c>).
/// </summary>
public sealed class FormParameters
{
    private readonly Dictionary<string, string[]> _values;

    internal FormParameters(Dictionary<string, string[]> values) => _values = values;

    /// <summary>An empty parameter set.</summary>
    public static FormParameters Empty { get; } = new(new Dictionary<string, string[]>(StringComparer.Ordinal));

    /// <summary>Builds a parameter set from name/value pairs (for clients and tests); repeated names are kept.</summary>
    public static FormParameters FromPairs(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var values = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (name, value) in pairs)
        {
            values[name] = values.TryGetValue(name, out var existing) ? [.. existing, value] : [value];
        }

        return new FormParameters(values);
    }

    /// <summary>Parameter names present.</summary>
    public IEnumerable<string> Names => _values.Keys;

    /// <summary>Number of distinct parameter names present.</summary>
    public int Count => _values.Count;

    /// <summary>The single value of <paramref name="name"/>, or null when absent. Empty values count as absent (RFC 6749 §3.1).</summary>
    public string? this[string name] => _values.TryGetValue(name, out var v) ? v[0] : null;

    /// <summary>All values of <paramref name="name"/> (more than one only for names allowed to repeat).</summary>
    public IReadOnlyList<string> GetAll(string name) =>
        _values.TryGetValue(name, out var v) ? new ReadOnlyCollection<string>(v) : [];

    /// <summary>Whether the parameter is present.</summary>
    public bool Contains(string name) => _values.ContainsKey(name);
}
