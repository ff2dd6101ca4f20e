using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http;

namespace Ema.Server.AspNetCore.Endpoints;

/// <summary>
/// Server-rendered pages of the IdP (no JavaScript). Every value is HTML-encoded; every page is uncacheable, unframeable,
/// and sends no referrer (the URL of a sign-in page carries a request id).
/// </summary>
internal static class Pages
{
    private const string Style = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}main{max-width:380px;margin:8vh auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}h1{font-size:1.3rem;margin:0 0 .3rem}p.sub{color:#555;margin:0 0 1.5rem}label{display:block;margin:.8rem 0 .3rem;font-weight:600}input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #bbb;border-radius:4px;font-size:1rem}button{margin-top:1.4rem;width:100%;padding:.7rem;border:0;border-radius:4px;background:#1f5fbf;color:#fff;font-size:1rem;cursor:pointer}.error{background:#fdecea;color:#8a1c12;padding:.7rem;border-radius:4px;margin-bottom:1rem}footer{color:#888;font-size:.8rem;margin-top:1.5rem}";

    public static Task SignInAsync(HttpContext context, string action, string pendingId, string clientName, string antiforgeryField, string antiforgeryToken, string? username, string? error, int status = StatusCodes.Status200OK, bool askOneTimeCode = false)
    {
        var otpHtml = askOneTimeCode
            ? """<label for="otp">One-time code</label><input type="text" id="otp" name="otp" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" aria-describedby="otp-hint"><p class="sub" id="otp-hint">From your authenticator app. No authenticator yet? Leave it empty: you can set one up next.</p>"""
            : string.Empty;
        var e = HtmlEncoder.Default;
        var errorHtml = error is null ? string.Empty : $"<div class=\"error\" role=\"alert\" id=\"error\">{e.Encode(error)}</div>";
        var body = $"""
            <main>
              <h1>Sign in</h1>
              <p class="sub">to continue to <strong id="client">{e.Encode(clientName)}</strong></p>
              {errorHtml}
              <form method="post" action="{e.Encode(action)}" autocomplete="on">
                <input type="hidden" name="request" value="{e.Encode(pendingId)}">
                <input type="hidden" name="{e.Encode(antiforgeryField)}" value="{e.Encode(antiforgeryToken)}">
                <label for="username">Username</label>
                <input type="text" id="username" name="username" value="{e.Encode(username ?? string.Empty)}" autocomplete="username" required autofocus>
                <label for="password">Password</label>
                <input type="password" id="password" name="password" autocomplete="current-password" required>
                {otpHtml}
                <button type="submit" id="submit">Sign in</button>
              </form>
              <footer>Your organization signs you in once for every AI tool it has enabled.</footer>
            </main>
            """;
        return WriteAsync(context, "Sign in", body, status);
    }

    /// <summary>
    /// First use of MFA: the password was accepted; the user adds the secret to an authenticator app (RFC 6238) and
    /// proves it with a code. The secret is shown only here; the hidden token carrying it is encrypted.
    /// </summary>
    public static Task MfaEnrollmentAsync(HttpContext context, string action, string pendingId, string antiforgeryField, string antiforgeryToken, string secretBase32, string otpAuthUri, string enrollmentToken, string? message)
    {
        var e = HtmlEncoder.Default;
        const string sixDigits = "[0-9]{6}";
        var grouped = string.Join(' ', secretBase32.Chunk(4).Select(c => new string(c)));
        var body = $"""
            <main>
              <h1>Set up your authenticator</h1>
              <p class="sub" id="message">{e.Encode(message ?? string.Empty)}</p>
              <ol>
                <li>In your authenticator app, add an account with this key (time-based, 6 digits, every 30 seconds):<br><code id="totp-secret">{e.Encode(grouped)}</code></li>
                <li>or open this link on the device that has the app: <a id="otpauth" href="{e.Encode(otpAuthUri)}">add to authenticator</a></li>
                <li>Enter the code the app shows.</li>
              </ol>
              <form method="post" action="{e.Encode(action)}" autocomplete="off">
                <input type="hidden" name="request" value="{e.Encode(pendingId)}">
                <input type="hidden" name="enrollment" value="{e.Encode(enrollmentToken)}">
                <input type="hidden" name="{e.Encode(antiforgeryField)}" value="{e.Encode(antiforgeryToken)}">
                <label for="otp">One-time code</label>
                <input type="text" id="otp" name="otp" inputmode="numeric" pattern="{sixDigits}" autocomplete="one-time-code" required autofocus>
                <button type="submit" id="submit">Verify and continue</button>
              </form>
            </main>
            """;
        return WriteAsync(context, "Set up your authenticator", body, StatusCodes.Status200OK);
    }

    public static Task DeviceCodeAsync(HttpContext context, string action, string? userCode, string? error)
    {
        var e = HtmlEncoder.Default;
        var errorHtml = error is null ? string.Empty : $"<div class=\"error\" role=\"alert\" id=\"error\">{e.Encode(error)}</div>";
        var body = $"""
            <main>
              <h1>Sign in on a device</h1>
              <p class="sub">Enter the code your device shows.</p>
              {errorHtml}
              <form method="get" action="{e.Encode(action)}" autocomplete="off">
                <label for="user_code">Code</label>
                <input type="text" id="user_code" name="user_code" value="{e.Encode(userCode ?? string.Empty)}" required autofocus>
                <button type="submit" id="continue">Continue</button>
              </form>
            </main>
            """;
        return WriteAsync(context, "Device sign-in", body, error is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }

    public static Task DeviceAsync(HttpContext context, string action, string userCode, string clientName, string scope, string antiforgeryField, string antiforgeryToken, string? username, string? error)
    {
        var e = HtmlEncoder.Default;
        var errorHtml = error is null ? string.Empty : $"<div class=\"error\" role=\"alert\" id=\"error\">{e.Encode(error)}</div>";
        var body = $"""
            <main>
              <h1>Sign in on a device</h1>
              <p class="sub"><strong id="client">{e.Encode(clientName)}</strong> on a device showing the code <strong id="code">{e.Encode(userCode)}</strong> asks to act as you (<span id="scope">{e.Encode(scope)}</span>).</p>
              {errorHtml}
              <form method="post" action="{e.Encode(action)}" autocomplete="on">
                <input type="hidden" name="{e.Encode(antiforgeryField)}" value="{e.Encode(antiforgeryToken)}">
                <input type="hidden" name="user_code" value="{e.Encode(userCode)}">
                <label for="username">Username</label>
                <input type="text" id="username" name="username" value="{e.Encode(username ?? string.Empty)}" autocomplete="username" required autofocus>
                <label for="password">Password</label>
                <input type="password" id="password" name="password" autocomplete="current-password" required>
                <button type="submit" id="allow" name="decision" value="allow">Allow and connect the device</button>
                <button type="submit" id="deny" name="decision" value="deny" style="background:#666">Deny</button>
              </form>
              <footer>Only allow a code you started yourself: the device gets your sign-in.</footer>
            </main>
            """;
        return WriteAsync(context, "Device sign-in", body, error is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }

    public static Task MessageAsync(HttpContext context, string title, string message)
    {
        var e = HtmlEncoder.Default;
        return WriteAsync(context, title, $"<main><h1>{e.Encode(title)}</h1><p class=\"sub\" id=\"message\">{e.Encode(message)}</p></main>", StatusCodes.Status200OK);
    }

    public static Task ErrorAsync(HttpContext context, string title, string message, int status)
    {
        var e = HtmlEncoder.Default;
        return WriteAsync(context, title, $"<main><h1>{e.Encode(title)}</h1><p class=\"error\" id=\"error\">{e.Encode(message)}</p></main>", status);
    }

    public static Task SignedOutAsync(HttpContext context) =>
        WriteAsync(context, "Signed out", "<main><h1>You are signed out</h1><p class=\"sub\">You can close this window.</p></main>", StatusCodes.Status200OK);

    private static Task WriteAsync(HttpContext context, string title, string body, int status)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "text/html; charset=utf-8";
        SecurityHeaders(response);
        return response.WriteAsync($"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{HtmlEncoder.Default.Encode(title)} · Ema</title><style>{Style}</style></head><body>{body}</body></html>", context.RequestAborted);
    }

    public static void SecurityHeaders(HttpResponse response)
    {
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";
        response.Headers["X-Frame-Options"] = "DENY";
        response.Headers["X-Content-Type-Options"] = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";
    }
}
