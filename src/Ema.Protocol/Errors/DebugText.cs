namespace Ema.Protocol;

/// <summary>Values a caller chose, made safe for the debug text of an error (which may be logged).</summary>
public static class DebugText
{
    /// <summary>At most 200 characters, control characters escaped as <c>\uXXXX</c>; "(none)" for null.</summary>
    public static string Untrusted(string? value) =>
        value is null ? "(none)" : string.Concat(value.Take(200).Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
}
