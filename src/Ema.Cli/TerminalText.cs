using System.Globalization;
using System.Text;

namespace Ema.Cli;

/// <summary>
/// Text from elsewhere — audit fields a caller chose (a client id sent with a failed request), server names, refusal
/// reasons and tool descriptions from MCP servers — made safe to print to a terminal: control characters (escape
/// sequences could erase a line and print a forged one), bidirectional overrides (which reorder what is shown) and
/// line separators are shown as <c>\u{XXXX}</c> instead of being acted on.
/// </summary>
public static class TerminalText
{
    /// <summary><paramref name="text"/> with every character a terminal would act on shown escaped; newlines and tabs too unless <paramref name="multiline"/>.</summary>
    public static string Safe(string? text, bool multiline = false)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        var clean = true;
        foreach (var c in text)
        {
            if (Acted(c, multiline))
            {
                clean = false;
                break;
            }
        }

        if (clean)
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (Acted(c, multiline))
            {
                builder.Append("\\u{").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture)).Append('}');
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static bool Acted(char c, bool multiline) =>
        (char.IsControl(c) && !(multiline && c is '\n' or '\t'))
        || c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u2028' or '\u2029';
}
