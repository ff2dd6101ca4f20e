using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Ema.Admin.Console;

/// <summary>The console's response headers: no caching (pages show directory data), no framing, no scripts at all.</summary>
public static class ConsoleSecurityHeaders
{
    public static void Apply(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";
        response.Headers["X-Frame-Options"] = "DENY";
        response.Headers["X-Content-Type-Options"] = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers["Cross-Origin-Opener-Policy"] = "same-origin";
        // HSTS on real hosts only: pinned https for "localhost" would follow a developer to every local port.
        var host = response.HttpContext.Request.Host.Host;
        if (response.HttpContext.Request.IsHttps && host != "localhost" && !(System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address)))
        {
            response.Headers.StrictTransportSecurity = "max-age=31536000";
        }

        // The console works without JavaScript: none is allowed to run.
        response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    }
}

/// <summary>Adds <see cref="ConsoleSecurityHeaders"/> to every console page.</summary>
internal sealed class SecurityHeadersPageFilter : IAsyncPageFilter
{
    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        ConsoleSecurityHeaders.Apply(context.HttpContext.Response);
        return next();
    }
}

/// <summary>Plain pages outside Razor (sign-in errors): encoded text only.</summary>
internal static class ConsolePages
{
    public static async Task MessageAsync(HttpContext ctx, string title, string message, int status, string? link)
    {
        ConsoleSecurityHeaders.Apply(ctx.Response);
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "text/html; charset=utf-8";
        var e = HtmlEncoder.Default;
        var back = link is null ? string.Empty : $"<p><a href=\"{e.Encode(link)}\">Continue</a></p>";
        await ctx.Response.WriteAsync($"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e.Encode(title)} · Ema</title><link rel=\"stylesheet\" href=\"{ConsoleNames.StylesPath}\"></head><body><main class=\"narrow\"><h1>{e.Encode(title)}</h1><p id=\"message\">{e.Encode(message)}</p>{back}</main></body></html>", ctx.RequestAborted).ConfigureAwait(false);
    }
}
