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

        var buffer = ArrayPool<byte>.Shared.Rent(options.MaxBodyBytes + 1);
        try
        {
            var total = 0;
            int read;
            while ((read = await request.Body.ReadAsync(buffer.AsMemory(total, buffer.Length - total), request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > options.MaxBodyBytes)
                {
                    return new FormParseResult(null, OAuthError.From(ErrorIds.FormBodyTooLarge, "body exceeds limit"));
                }
            }

            return StrictFormParser.Parse(buffer.AsSpan(0, total), options);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true); // the body may hold secrets
        }
    }

    /// <summary>The bearer token of the Authorization header (RFC 6750 §2.1), or null.</summary>
    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string Prefix = HeaderValues.BearerScheme + " ";
        return header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) && header.Length > Prefix.Length ? header[Prefix.Length..].Trim() : null;
    }
}
