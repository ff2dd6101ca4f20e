using System.Buffers;
using Ema.Protocol;
using Microsoft.AspNetCore.Http;

namespace Ema.Server.AspNetCore.Endpoints;

/// <summary>Reads a token request body: form content type only, bounded size, strict parsing.</summary>
internal static class RequestBody
{
    public static async Task<FormParseResult> ReadFormAsync(HttpRequest request, FormParserOptions options)
    {
        if (!StrictFormParser.IsFormContentType(request.ContentType))
        {
            return new FormParseResult(null, OAuthError.From(ErrorIds.FormWrongContentType, $"content-type={request.ContentType}"));
        }

        if (request.ContentLength > options.MaxBodyBytes)
        {
            return new FormParseResult(null, OAuthError.From(ErrorIds.FormBodyTooLarge, $"content-length={request.ContentLength}"));
        }

        // Sized by Content-Length when known (token requests are a few KiB); grows up to the limit otherwise.
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(request.ContentLength ?? 4096, 1, options.MaxBodyBytes) + 1);
        var total = 0;
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(buffer.AsMemory(total, buffer.Length - total), request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > options.MaxBodyBytes)
                {
                    return new FormParseResult(null, OAuthError.From(ErrorIds.FormBodyTooLarge, "body exceeds limit"));
                }

                if (total == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, options.MaxBodyBytes + 1));
                    buffer.AsSpan(0, total).CopyTo(larger);
                    System.Security.Cryptography.CryptographicOperations.ZeroMemory(buffer.AsSpan(0, total));
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
            }

            return StrictFormParser.Parse(buffer.AsSpan(0, total), options);
        }
        finally
        {
            // The body may hold secrets: wipe what was used before the buffer goes back to the pool.
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(buffer.AsSpan(0, Math.Min(total, buffer.Length)));
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The bearer token of the Authorization header (RFC 6750 §2.1), or null.</summary>
    /// <summary>The request's <c>DPoP</c> header values (RFC 9449 §4.1); empty when there is none.</summary>
    public static IReadOnlyList<string> DpopProofs(HttpRequest request) =>
        request.Headers.TryGetValue(HeaderValues.DpopHeader, out var values) ? [.. values.Select(v => v ?? string.Empty)] : [];

    /// <summary>The access token of an <c>Authorization</c> header with the Bearer or the DPoP scheme (RFC 9449 §7.1), and which.</summary>
    public static (string? Token, bool Dpop) AccessToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string DpopPrefix = TokenTypes.Dpop + " ";
        return header.StartsWith(DpopPrefix, StringComparison.OrdinalIgnoreCase) && header.Length > DpopPrefix.Length
            ? (header[DpopPrefix.Length..].Trim(), true)
            : (BearerToken(request), false);
    }

    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string Prefix = HeaderValues.BearerScheme + " ";
        return header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) && header.Length > Prefix.Length ? header[Prefix.Length..].Trim() : null;
    }
}
