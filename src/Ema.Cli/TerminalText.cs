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
        foreach (var rune in text.EnumerateRunes())
        {
            if (Acted(rune, multiline))
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
        foreach (var rune in text.EnumerateRunes())
        {
            if (Acted(rune, multiline))
            {
                builder.Append("\\u{").Append(rune.Value.ToString("X4", CultureInfo.InvariantCulture)).Append('}');
            }
            else
            {
                builder.Append(rune.ToString());
            }
        }

        return builder.ToString();
    }

    // Control characters (C0, C1, DEL); format characters — bidirectional overrides and isolates, zero-width spaces and
    // other invisible characters, tag characters (outside the BMP, which can carry hidden text) — but the joiners and the
    // soft hyphen; line and paragraph separators; and what is left of a broken surrogate pair.
    private static bool Acted(Rune rune, bool multiline) =>
        Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control => !(multiline && rune.Value is '\n' or '\t'),
            // Joiners and the soft hyphen shape emoji and scripts (Persian, Indic) and move nothing: kept.
            UnicodeCategory.Format => rune.Value is not (0x200C or 0x200D or 0x00AD),
            UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => true,
            _ => rune == Rune.ReplacementChar,
        };
}
