using System.Buffers;
using System.Text;

namespace Ema.Protocol;

/// <summary>Limits applied by <see cref="StrictFormParser"/>.</summary>
public sealed record FormParserOptions
{
    /// <summary>Largest body accepted, in bytes. ID-JAGs and ID tokens are a few KiB; 64 KiB leaves room for SAML assertions.</summary>
    public int MaxBodyBytes { get; init; } = 64 * 1024;

    /// <summary>Most parameters accepted.</summary>
    public int MaxParameters { get; init; } = 64;

    /// <summary>Names that may legitimately appear more than once (RFC 8707 §2 <c>resource</c>, RFC 8693 §2.1 <c>audience</c>).</summary>
    public IReadOnlySet<string> RepeatableNames { get; init; } =
        new HashSet<string>(StringComparer.Ordinal) { OAuthParameters.Resource, OAuthParameters.Audience };

    /// <summary>Defaults for token endpoints.</summary>
    public static FormParserOptions Default { get; } = new();
}

/// <summary>The outcome of parsing a form body: parameters, or the <see cref="OAuthError"/> to answer with.</summary>
public readonly record struct FormParseResult(FormParameters? Parameters, OAuthError? Error)
{
    /// <summary>True when parsing succeeded.</summary>
    public bool IsSuccess => Parameters is not null;
}

/// <summary>
/// A strict parser for <c>application/x-www-form-urlencoded</c> token requests (WHATWG URL §5.1, RFC 6749 Appendix B).
/// </summary>
/// <remarks>
/// Strict where RFC 6749 is: a parameter included more than once is rejected (§3.2, "MUST NOT be included more than
/// once") except for the names in <see cref="FormParserOptions.RepeatableNames"/>; invalid percent-escapes and invalid
/// UTF-8 are rejected rather than repaired; oversized bodies are rejected before any parsing. Parameters sent without
/// a value are treated as omitted (§3.1). The parser never throws on input and never echoes values in errors.
/// </remarks>
public static class StrictFormParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Whether a <c>Content-Type</c> header value denotes a form body (parameters such as charset allowed).</summary>
    public static bool IsFormContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return false;
        }

        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        var mediaType = (semicolon < 0 ? contentType : contentType[..semicolon]).Trim();
        return mediaType.Equals(MediaTypes.FormUrlEncoded, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Parses a form body.</summary>
    public static FormParseResult Parse(ReadOnlySpan<byte> body, FormParserOptions? options = null)
    {
        options ??= FormParserOptions.Default;
        if (body.Length > options.MaxBodyBytes)
        {
            return Fail(ErrorIds.FormBodyTooLarge, $"length={body.Length}");
        }

        var values = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(body.Length, 1));
        try
        {
            var remaining = body;
            var pairs = 0;
            while (!remaining.IsEmpty)
            {
                var amp = remaining.IndexOf((byte)'&');
                var pair = amp < 0 ? remaining : remaining[..amp];
                remaining = amp < 0 ? [] : remaining[(amp + 1)..];
                if (pair.IsEmpty)
                {
                    continue; // "a=1&&b=2": empty sequences are skipped (WHATWG URL §5.1 step 3.1)
                }

                if (++pairs > options.MaxParameters)
                {
                    return Fail(ErrorIds.FormTooManyParameters, $"limit={options.MaxParameters}");
                }

                var eq = pair.IndexOf((byte)'=');
                var rawName = eq < 0 ? pair : pair[..eq];
                var rawValue = eq < 0 ? [] : pair[(eq + 1)..];

                if (!TryDecode(rawName, rented, out var name, out var nameError))
                {
                    return Fail(nameError!, "in a parameter name");
                }

                if (name.Length == 0)
                {
                    return Fail(ErrorIds.FormEmptyParameterName, null);
                }

                if (!TryDecode(rawValue, rented, out var value, out var valueError))
                {
                    return Fail(valueError!, $"in parameter {Printable(name)}");
                }

                // RFC 6749 §3.2: parameters MUST NOT be included more than once (checked before the empty-value rule,
                // so "scope=&scope=admin" is still a repetition).
                if (!seen.Add(name) && !options.RepeatableNames.Contains(name))
                {
                    return Fail(
                        ErrorIds.FormRepeatedParameter,
                        $"The request parameter '{Printable(name)}' was included more than once.",
                        null);
                }

                if (value.Length == 0)
                {
                    continue; // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
                }

                values[name] = values.TryGetValue(name, out var existing) ? [.. existing, value] : [value];
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return new FormParseResult(new FormParameters(values), null);
    }

    /// <summary>Encodes name/value pairs as a form body (clients and tests).</summary>
    public static string Encode(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var builder = new StringBuilder();
        foreach (var (name, value) in pairs)
        {
            if (builder.Length > 0)
            {
                builder.Append('&');
            }

            builder.Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
        }

        return builder.ToString();
    }

    private static bool TryDecode(ReadOnlySpan<byte> raw, byte[] buffer, out string decoded, out ErrorDescriptor? error)
    {
        var length = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (b == (byte)'+')
            {
                buffer[length++] = (byte)' ';
            }
            else if (b == (byte)'%')
            {
                if (i + 2 >= raw.Length || !IsHex(raw[i + 1]) || !IsHex(raw[i + 2]))
                {
                    decoded = string.Empty;
                    error = ErrorIds.FormMalformedEncoding;
                    return false;
                }

                buffer[length++] = (byte)((HexValue(raw[i + 1]) << 4) | HexValue(raw[i + 2]));
                i += 2;
            }
            else
            {
                buffer[length++] = b;
            }
        }

        try
        {
            decoded = StrictUtf8.GetString(buffer, 0, length);
        }
        catch (DecoderFallbackException)
        {
            decoded = string.Empty;
            error = ErrorIds.FormInvalidUtf8;
            return false;
        }

        error = null;
        return true;
    }

    private static bool IsHex(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F');

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    // Parameter names are echoed in descriptions only when they are short and plain, never values.
    private static string Printable(string name) =>
        name.Length <= 40 && name.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or '.' or ':')
            ? name
            : "(unprintable name)";

    private static FormParseResult Fail(ErrorDescriptor descriptor, string? debug) =>
        new(null, OAuthError.From(descriptor, debug));

    private static FormParseResult Fail(ErrorDescriptor descriptor, string description, string? debug) =>
        new(null, OAuthError.From(descriptor, description, debug));
}
