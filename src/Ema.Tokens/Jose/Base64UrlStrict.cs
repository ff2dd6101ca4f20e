using System.Buffers.Text;

namespace Ema.Tokens.Jose;

/// <summary>
/// Strict base64url (RFC 4648 §5, no padding, RFC 7515 §2): anything outside the alphabet, padding, whitespace or an
/// impossible length is refused instead of being repaired, so one token has exactly one accepted spelling.
/// </summary>
internal static class Base64UrlStrict
{
    public static bool IsValid(ReadOnlySpan<char> text)
    {
        if (text.Length % 4 == 1)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!(c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Decodes into <paramref name="destination"/>; returns the byte count or -1 when the text is not strict base64url.</summary>
    public static int Decode(ReadOnlySpan<char> text, Span<byte> destination)
    {
        if (!IsValid(text))
        {
            return -1;
        }

        try
        {
            return Base64Url.TryDecodeFromChars(text, destination, out var written) ? written : -1;
        }
        catch (FormatException)
        {
            // Non-canonical trailing bits: the BCL throws rather than returning false.
            return -1;
        }
    }

    public static int MaxDecodedLength(int encodedLength) => Base64Url.GetMaxDecodedLength(encodedLength);

    public static string Encode(ReadOnlySpan<byte> data) => Base64Url.EncodeToString(data);
}
