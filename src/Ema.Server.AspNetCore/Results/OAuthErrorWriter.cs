using System.Text.Json;
using Ema.Protocol;
using Microsoft.AspNetCore.Http;

namespace Ema.Server.AspNetCore.Results;

/// <summary>
/// The only code that writes OAuth errors (style rule 2): RFC 6749 §5.2 JSON for token endpoints and RFC 6750 §3
/// <c>WWW-Authenticate</c> challenges for bearer-protected endpoints. Only the public part of an error is written;
/// <see cref="OAuthError.Debug"/> never leaves the server.
/// </summary>
public static class OAuthErrorWriter
{
    /// <summary>Writes an RFC 6749 §5.2 error response (<c>Cache-Control: no-store</c>; 401 with a Basic challenge when asked).</summary>
    public static Task WriteTokenErrorAsync(HttpContext context, OAuthError error, bool basicChallenge = false, Uri? errorDocumentation = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(error);
        var response = context.Response;
        response.StatusCode = error.StatusCode;
        NoStore(response);
        if (basicChallenge && error.StatusCode == StatusCodes.Status401Unauthorized)
        {
            response.Headers.WWWAuthenticate = $"{HeaderValues.BasicScheme} realm=\"ema\"";
        }

        return WriteJsonAsync(context, error.ToResponse(errorDocumentation), EmaJsonContext.Default.OAuthErrorResponse);
    }

    /// <summary>Writes an RFC 6750 §3 bearer challenge (401 <c>invalid_token</c>, 403 <c>insufficient_scope</c>, or 401 with no error when no token was sent).</summary>
    public static void WriteBearerChallenge(HttpContext context, OAuthError? error, string? resourceMetadata = null, string? scope = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var parameters = new List<string>();
        if (resourceMetadata is not null)
        {
            parameters.Add($"{BearerChallengeParameters.ResourceMetadata}=\"{Quote(resourceMetadata)}\"");
        }

        if (error is not null)
        {
            parameters.Add($"{BearerChallengeParameters.Error}=\"{Quote(error.Code)}\"");
            parameters.Add($"{BearerChallengeParameters.ErrorDescription}=\"{Quote(error.Description)}\"");
            if (error.Scope is not null)
            {
                parameters.Add($"{BearerChallengeParameters.Scope}=\"{Quote(error.Scope)}\"");
            }
        }
        else if (scope is not null)
        {
            // MCP "Scope Selection Strategy": the initial challenge says which scopes to ask for.
            parameters.Add($"{BearerChallengeParameters.Scope}=\"{Quote(scope)}\"");
        }

        context.Response.StatusCode = error?.StatusCode ?? StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = parameters.Count == 0 ? HeaderValues.BearerScheme : HeaderValues.BearerScheme + " " + string.Join(", ", parameters);
        NoStore(context.Response);
    }

    /// <summary>
    /// RFC 9449 §7.1: the Bearer challenge (with the resource metadata, for discovery) and a DPoP one naming the accepted
    /// proof algorithms — and the error, when it is about DPoP.
    /// </summary>
    public static void WriteBearerAndDpopChallenge(HttpContext context, OAuthError? error, string? resourceMetadata, string? scope, IReadOnlyList<string> dpopAlgorithms)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(dpopAlgorithms);

        // invalid_dpop_proof is a DPoP error code, not a Bearer one (RFC 9449 §7.1, RFC 6750 §3.1): the Bearer challenge
        // then points at the metadata only, and the DPoP challenge carries the error.
        WriteBearerChallenge(context, error?.Code == ErrorCodes.InvalidDpopProof ? null : error, resourceMetadata, scope);
        if (error is not null)
        {
            context.Response.StatusCode = error.StatusCode;
        }

        var dpop = $"{TokenTypes.Dpop} algs=\"{Quote(string.Join(' ', dpopAlgorithms))}\"";
        if (error is not null)
        {
            dpop += $", {BearerChallengeParameters.Error}=\"{Quote(error.Code)}\", {BearerChallengeParameters.ErrorDescription}=\"{Quote(error.Description)}\"";
        }

        context.Response.Headers.Append(Microsoft.Net.Http.Headers.HeaderNames.WWWAuthenticate, dpop);
    }

    /// <summary>Writes a successful token response (JSON, no-store).</summary>
    public static Task WriteJsonNoStoreAsync<T>(HttpContext context, T body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.StatusCode = StatusCodes.Status200OK;
        NoStore(context.Response);
        return WriteJsonAsync(context, body, typeInfo);
    }

    private static Task WriteJsonAsync<T>(HttpContext context, T body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        // Token responses are small: serialize once and send with a Content-Length (no chunked framing, one write).
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, typeInfo);
        context.Response.ContentType = MediaTypes.Json + "; charset=utf-8";
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
    }

    // RFC 6749 §5.1: token responses and errors MUST NOT be cached.
    private static void NoStore(HttpResponse response)
    {
        response.Headers.CacheControl = HeaderValues.NoStore;
        response.Headers.Pragma = HeaderValues.NoCache;
    }

    // RFC 7230 quoted-string: escape backslash and quote; drop control characters.
    // RFC 6750 §3: error_description is printable ASCII — anything else (control characters, and non-ASCII such as
    // "§", which Kestrel refuses in a header value) is left out rather than turn a challenge into a 500.
    private static string Quote(string value) =>
        new string(value.Where(c => c >= 0x20 && c < 0x7F).ToArray()).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
