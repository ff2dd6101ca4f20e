using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Ema.Protocol;
using Ema.Server;
using Ema.Server.Grants;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Stores;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ema.Admin.Console;

/// <summary>
/// The console signs its users in through the IdP it administers, as an ordinary OIDC relying party: authorization
/// code with PKCE S256 (RFC 7636), <c>acr_values</c> asking for MFA on admin pages, <c>max_age=0</c> for a step-up, and
/// RFC 9207 <c>iss</c> checked. The code is redeemed in-process at the IdP's own token endpoint service, so the ID token
/// never crosses the browser.
/// </summary>
internal static partial class ConsoleSignIn
{
    private const string Purpose = "Ema.Admin.ConsoleSignIn.v1";
    private static readonly TimeSpan SignInLifetime = TimeSpan.FromMinutes(10);

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(ConsoleNames.LoginPath, LoginAsync).ExcludeFromDescription();
        endpoints.MapGet(ConsoleNames.CallbackPath, CallbackAsync).ExcludeFromDescription();
        endpoints.MapPost(ConsoleNames.LogoutPath, LogoutAsync).ExcludeFromDescription();
        endpoints.MapGet(ConsoleNames.StylesPath, (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=3600";
            ctx.Response.Headers["X-Content-Type-Options"] = "nosniff";
            return Results.Text(ConsoleStyles.Css, "text/css; charset=utf-8");
        }).ExcludeFromDescription();
    }

    /// <summary>The console's redirect URI at <paramref name="issuer"/>'s origin.</summary>
    public static string RedirectUri(string issuer) => new Uri(issuer).GetLeftPart(UriPartial.Authority) + ConsoleNames.CallbackPath;

    /// <summary>Whether <paramref name="url"/> is a path on this site (never another origin: no open redirect).</summary>
    /// <remarks>Control characters are refused anywhere: browsers drop tabs and newlines, so <c>/\t/evil</c> is <c>//evil</c>.</remarks>
    public static bool IsLocalPath(string? url) =>
        !string.IsNullOrEmpty(url) && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) && !url.Any(char.IsControl);

    internal static bool IsHttps(string issuer) => issuer.StartsWith("https://", StringComparison.Ordinal);

    private static string CookieName(HttpContext ctx) => IsHttps(Issuer(ctx)) ? "__Host-ema-console-signin" : "ema-console-signin-dev";

    private static string Issuer(HttpContext ctx) => ctx.RequestServices.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.Issuer;

    private static async Task LoginAsync(HttpContext ctx)
    {
        var services = ctx.RequestServices;
        var issuer = services.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.Issuer;
        var returnUrl = ctx.Request.Query["returnUrl"].ToString();
        if (!IsLocalPath(returnUrl))
        {
            returnUrl = "/admin";
        }

        // Admin pages need a second factor; the self-service pages need only a sign-in. A step-up forces a new one.
        var stepUp = ctx.Request.Query["stepup"] == "1";
        var needsMfa = stepUp || returnUrl.StartsWith("/admin", StringComparison.OrdinalIgnoreCase);
        var state = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(24));
        var verifier = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var expires = services.GetRequiredService<TimeProvider>().GetUtcNow() + SignInLifetime;
        var protector = services.GetRequiredService<IDataProtectionProvider>().CreateProtector(Purpose);
        ctx.Response.Cookies.Append(CookieName(ctx), protector.Protect(string.Join('\n', state, verifier, returnUrl, expires.ToUnixTimeSeconds())), new CookieOptions
        {
            HttpOnly = true,
            Secure = IsHttps(issuer) || ctx.Request.IsHttps,
            SameSite = SameSiteMode.Lax,
            Path = "/",
            MaxAge = SignInLifetime,
            IsEssential = true,
        });

        var query = new List<string>
        {
            Pair(OAuthParameters.ResponseType, ResponseTypes.Code),
            Pair(OAuthParameters.ClientId, ConsoleNames.ClientId),
            Pair(OAuthParameters.RedirectUri, RedirectUri(issuer)),
            Pair(OAuthParameters.Scope, OidcScopes.OpenId + " " + OidcScopes.Profile),
            Pair(OAuthParameters.State, state),
            Pair(OAuthParameters.CodeChallenge, challenge),
            Pair(OAuthParameters.CodeChallengeMethod, CodeChallengeMethods.S256),
        };
        if (needsMfa)
        {
            query.Add(Pair(OAuthParameters.AcrValues, AuthenticationContextClasses.MultiFactor));
        }

        if (stepUp)
        {
            query.Add(Pair(OAuthParameters.MaxAge, "0"));
        }

        ConsoleSecurityHeaders.Apply(ctx.Response);
        ctx.Response.Redirect(issuer + "/authorize?" + string.Join('&', query));
    }

    private static async Task CallbackAsync(HttpContext ctx)
    {
        var services = ctx.RequestServices;
        var time = services.GetRequiredService<TimeProvider>();
        var idp = services.GetRequiredService<IOptions<IdentityProviderOptions>>().Value;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Ema.Admin.Console");
        var query = ctx.Request.Query;
        var cookie = ctx.Request.Cookies[CookieName(ctx)];
        ctx.Response.Cookies.Delete(CookieName(ctx), new CookieOptions { Path = "/", Secure = IsHttps(idp.Issuer) || ctx.Request.IsHttps, HttpOnly = true });

        string[]? saved = null;
        try
        {
            saved = cookie is null ? null : services.GetRequiredService<IDataProtectionProvider>().CreateProtector(Purpose).Unprotect(cookie).Split('\n');
        }
        catch (CryptographicException)
        {
            saved = null;
        }

        if (saved is not { Length: 4 } || !long.TryParse(saved[3], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var expires)
            || DateTimeOffset.FromUnixTimeSeconds(expires) < time.GetUtcNow()
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(saved[0]), Encoding.ASCII.GetBytes(query[OAuthParameters.State].ToString())))
        {
            await ConsolePages.MessageAsync(ctx, "Sign-in expired", "This sign-in did not start here or took too long. Start again.", StatusCodes.Status400BadRequest, "/admin").ConfigureAwait(false);
            return;
        }

        // RFC 9207 §2.4: our IdP advertises authorization_response_iss_parameter_supported, so the response must name
        // its issuer, and it must be ours.
        if (!string.Equals(query[OAuthParameters.Issuer].ToString(), idp.Issuer, StringComparison.Ordinal))
        {
            await ConsolePages.MessageAsync(ctx, "Sign-in failed", "The sign-in response came from an unexpected issuer.", StatusCodes.Status400BadRequest, "/admin").ConfigureAwait(false);
            return;
        }

        if (query[OAuthParameters.Error].ToString() is { Length: > 0 } error)
        {
            await ConsolePages.MessageAsync(ctx, "Sign-in failed", $"The identity provider answered {error}: {query[OAuthParameters.ErrorDescription]}", StatusCodes.Status400BadRequest, "/admin").ConfigureAwait(false);
            return;
        }

        var form = FormParameters.FromPairs(
        [
            new(OAuthParameters.GrantType, GrantTypes.AuthorizationCode),
            new(OAuthParameters.Code, query[OAuthParameters.Code].ToString()),
            new(OAuthParameters.RedirectUri, RedirectUri(idp.Issuer)),
            new(OAuthParameters.ClientId, ConsoleNames.ClientId),
            new(OAuthParameters.CodeVerifier, saved[1]),
        ]);
        var result = await services.GetRequiredKeyedService<TokenEndpointService>(EmaRoles.IdentityProvider).HandleAsync(form, null, ctx.Connection.RemoteIpAddress?.ToString(), ctx.RequestAborted).ConfigureAwait(false);
        var validated = result.Body is AccessTokenResponse { IdToken: { } idToken }
            ? await services.GetRequiredService<IdentityProviderTokens>().IdTokenValidator.ValidateAsync(idToken, ctx.RequestAborted).ConfigureAwait(false)
            : default;
        if (validated.Value is not { } token || !token.Audiences.Contains(ConsoleNames.ClientId, StringComparer.Ordinal))
        {
            Log.ConsoleSignInRefused(logger, result.AuditId, result.Error?.ErrorId ?? "id_token");
            await ConsolePages.MessageAsync(ctx, "Sign-in failed", result.Error?.Description ?? "The identity provider's answer could not be verified.", StatusCodes.Status400BadRequest, "/admin").ConfigureAwait(false);
            return;
        }

        var directory = services.GetRequiredService<IDirectoryStore>();
        var user = await directory.FindUserAsync(token.Subject, ctx.RequestAborted).ConfigureAwait(false);
        if (user is null || user.Status != UserStatus.Active)
        {
            await ConsolePages.MessageAsync(ctx, "Sign-in failed", "Your account is not active.", StatusCodes.Status403Forbidden, null).ConfigureAwait(false);
            return;
        }

        var roles = await directory.GetRolesAsync(user.Id, ctx.RequestAborted).ConfigureAwait(false);
        var principal = new ConsoleUser(user.Id, user.Username, user.DisplayName, roles, token.AuthTime ?? time.GetUtcNow(), token.Amr, token.SessionId).ToPrincipal();
        var lifetime = services.GetRequiredService<IOptions<AdminConsoleOptions>>().Value.SessionLifetime;
        await ctx.SignInAsync(ConsoleNames.Scheme, principal, new AuthenticationProperties { IsPersistent = false, ExpiresUtc = time.GetUtcNow() + lifetime, AllowRefresh = false }).ConfigureAwait(false);
        Log.ConsoleSignedIn(logger, user.Id, string.Join(' ', token.Amr), token.JwtId);
        ConsoleSecurityHeaders.Apply(ctx.Response);
        ctx.Response.Redirect(IsLocalPath(saved[2]) ? saved[2] : "/admin");
    }

    /// <summary>
    /// Signs out of the console and of the IdP session behind it (RP-initiated: otherwise the next visit would sign the
    /// user straight back in). The antiforgery token was issued to the console user, so that user is authenticated first.
    /// </summary>
    private static async Task LogoutAsync(HttpContext ctx)
    {
        var console = await ctx.AuthenticateAsync(ConsoleNames.Scheme).ConfigureAwait(false);
        if (console.Succeeded)
        {
            ctx.User = console.Principal;
        }

        var antiforgery = ctx.RequestServices.GetRequiredService<Microsoft.AspNetCore.Antiforgery.IAntiforgery>();
        if (!await antiforgery.IsRequestValidAsync(ctx).ConfigureAwait(false))
        {
            await ConsolePages.MessageAsync(ctx, "Form expired", "The sign-out form is no longer valid. Reload the page and try again.", StatusCodes.Status400BadRequest, "/admin").ConfigureAwait(false);
            return;
        }

        await ctx.SignOutAsync(ConsoleNames.Scheme).ConfigureAwait(false);
        ConsoleSecurityHeaders.Apply(ctx.Response);
        ctx.Response.Redirect(Issuer(ctx) + "/endsession");
    }

    /// <summary>
    /// Every request re-checks the console cookie against the IdP: the session it came from must still be live and the
    /// user active, and roles are re-read, so revoking a session or a role takes effect at once.
    /// </summary>
    public static async Task ValidatePrincipalAsync(CookieValidatePrincipalContext context)
    {
        var user = ConsoleUser.From(context.Principal);
        var live = user is null ? null : await FindLiveAccountAsync(context.HttpContext.RequestServices, user.Id, user.SessionId, context.HttpContext.RequestAborted).ConfigureAwait(false);
        if (user is null || live is not { } account)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(ConsoleNames.Scheme).ConfigureAwait(false);
            return;
        }

        var roles = account.Roles;
        if (!roles.Order(StringComparer.Ordinal).SequenceEqual(user.Roles.Order(StringComparer.Ordinal), StringComparer.Ordinal))
        {
            context.ReplacePrincipal((user with { Roles = roles }).ToPrincipal());
        }
    }

    /// <summary>
    /// The rule every console or admin API request is held to, whatever carries the sign-in (cookie or bearer token): the
    /// user is active, the IdP session the sign-in came from is theirs, live and not revoked; roles are read now.
    /// </summary>
    internal static async Task<(User User, IdpSession Session, IReadOnlyList<string> Roles)?> FindLiveAccountAsync(IServiceProvider services, string userId, string? sessionId, CancellationToken cancellationToken)
    {
        var directory = services.GetRequiredService<IDirectoryStore>();
        var user = await directory.FindUserAsync(userId, cancellationToken).ConfigureAwait(false);
        var session = sessionId is null ? null : await services.GetRequiredService<IGrantStore>().FindSessionAsync(sessionId, cancellationToken).ConfigureAwait(false);
        if (user is null || user.Status != UserStatus.Active || session is null || session.Revoked || session.UserId != user.Id
            || session.ExpiresAt <= services.GetRequiredService<TimeProvider>().GetUtcNow())
        {
            return null;
        }

        return (user, session, await directory.GetRolesAsync(user.Id, cancellationToken).ConfigureAwait(false));
    }

    private static string Pair(string name, string value) => Uri.EscapeDataString(name) + "=" + Uri.EscapeDataString(value);
}
