using System.Text.Json;
using Ema.Protocol;
using Ema.Server.AspNetCore.Results;
using Ema.Server.Grants;
using Ema.Server.IdentityProvider;
using Ema.Server.Options;
using Ema.Server.Policy;
using Ema.Server.Stores;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ema.Server.AspNetCore.Endpoints;

/// <summary>Maps the enterprise IdP: OIDC discovery, JWKS, authorize, sign-in, token, userinfo, end-session, catalog.</summary>
public static class IdentityProviderEndpoints
{
    /// <summary>Name of the IdP session cookie (<c>__Host-</c>: https only, whole host, no Domain).</summary>
    public const string SessionCookie = "__Host-ema-idp";

    /// <summary>Session cookie name used with the loopback http development switch.</summary>
    public const string DevelopmentSessionCookie = "ema-idp-dev";

    /// <summary>
    /// Maps the IdP under the path of its issuer (for example issuer <c>https://host/idp</c> → <c>/idp/authorize</c>),
    /// with discovery both at <c>{issuer}/.well-known/openid-configuration</c> (OIDC Discovery §4) and at the RFC 8414 §3
    /// path-inserted locations.
    /// </summary>
    public static IEndpointRouteBuilder MapEmaIdentityProvider(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<IdentityProviderOptions>>().Value;
        var issuer = new Uri(options.Issuer);
        var prefix = issuer.AbsolutePath.TrimEnd('/');
        var secure = issuer.Scheme == Uri.UriSchemeHttps;
        var cookieName = secure ? SessionCookie : DevelopmentSessionCookie;

        endpoints.MapGet(prefix + WellKnownPaths.OpenIdConfiguration, (HttpContext ctx) => DiscoveryAsync(ctx, options));
        endpoints.MapGet(WellKnownPaths.OpenIdConfiguration + prefix, (HttpContext ctx) => DiscoveryAsync(ctx, options));
        endpoints.MapGet(WellKnownPaths.OAuthAuthorizationServer + prefix, (HttpContext ctx) => DiscoveryAsync(ctx, options));
        endpoints.MapGet(prefix + "/jwks", (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=300";
            ctx.Response.ContentType = MediaTypes.JwkSet;
            return JsonSerializer.SerializeAsync(ctx.Response.Body, ctx.RequestServices.GetRequiredService<IdentityProviderTokens>().Ring.Jwks, EmaJsonContext.Default.JsonWebKeySetDocument, ctx.RequestAborted);
        });

        endpoints.MapPost(prefix + "/token", (HttpContext ctx) => TokenAsync(ctx));
        endpoints.MapPost(prefix + RevocationPaths.Revoke, (HttpContext ctx) => RevokeAsync(ctx));
        endpoints.MapGet(prefix + "/authorize", (HttpContext ctx) => AuthorizeAsync(ctx, prefix, cookieName));
        endpoints.MapGet(prefix + "/signin", (HttpContext ctx) => SignInPageAsync(ctx, prefix));
        endpoints.MapPost(prefix + "/signin", (HttpContext ctx) => SignInAsync(ctx, prefix, cookieName, secure, options));
        endpoints.MapMethods(prefix + "/userinfo", [HttpMethods.Get, HttpMethods.Post], (HttpContext ctx) => UserInfoAsync(ctx));
        endpoints.MapGet(prefix + "/endsession", (HttpContext ctx) => EndSessionAsync(ctx, cookieName));
        endpoints.MapGet(prefix + EmaEndpoints.CatalogPath, (HttpContext ctx) => CatalogAsync(ctx));
        DeviceAuthorizationEndpoints.Map(endpoints, prefix, options.Issuer);
        return endpoints;
    }

    private static Task DiscoveryAsync(HttpContext ctx, IdentityProviderOptions options)
    {
        var tokens = ctx.RequestServices.GetRequiredService<IdentityProviderTokens>();
        var grants = ctx.RequestServices.GetRequiredKeyedService<TokenEndpointService>(EmaRoles.IdentityProvider).GrantTypes;
        var i = options.Issuer;

        // The token and revocation endpoints authenticate clients alike (the same ClientAuthenticator).
        string[] clientAuthentication = [ClientAuthenticationMethods.ClientSecretBasic, ClientAuthenticationMethods.ClientSecretPost, ClientAuthenticationMethods.PrivateKeyJwt, ClientAuthenticationMethods.None];
        var metadata = new OpenIdProviderMetadata
        {
            Issuer = i,
            AuthorizationEndpoint = i + "/authorize",
            TokenEndpoint = i + "/token",
            JwksUri = i + "/jwks",
            UserInfoEndpoint = i + "/userinfo",
            EndSessionEndpoint = i + "/endsession",
            RevocationEndpoint = i + RevocationPaths.Revoke,
            RevocationEndpointAuthMethodsSupported = clientAuthentication,
            DeviceAuthorizationEndpoint = i + DevicePaths.Authorization,
            ResponseTypesSupported = [ResponseTypes.Code],
            GrantTypesSupported = [.. grants.Order(StringComparer.Ordinal)],
            SubjectTypesSupported = [SubjectTypes.Public],
            IdTokenSigningAlgValuesSupported = [tokens.Ring.Current.Algorithm.Name],
            TokenEndpointAuthMethodsSupported = clientAuthentication,
            TokenEndpointAuthSigningAlgValuesSupported = SecurityAlgorithms.DefaultAccepted, // private_key_jwt (RFC 8414 §2)
            CodeChallengeMethodsSupported = [CodeChallengeMethods.S256],
            ScopesSupported = [OidcScopes.OpenId, OidcScopes.Profile, OidcScopes.Email, OidcScopes.OfflineAccess],
            ClaimsSupported = [JwtClaimNames.Subject, JwtClaimNames.Issuer, JwtClaimNames.Audience, JwtClaimNames.ExpiresAt, JwtClaimNames.IssuedAt, JwtClaimNames.AuthTime, JwtClaimNames.Nonce, JwtClaimNames.AuthenticationContextClass, JwtClaimNames.AuthenticationMethods, JwtClaimNames.SessionId, JwtClaimNames.Name, JwtClaimNames.PreferredUsername, JwtClaimNames.Email],
            PromptValuesSupported = [PromptValues.None, PromptValues.Login],
            AuthorizationResponseIssParameterSupported = true,

            // ID-JAG draft §7.1: this IdP issues ID-JAGs by token exchange.
            IdentityChainingRequestedTokenTypesSupported = [TokenTypes.IdJag],

            // RFC 9449 §5.1; ID-JAG §8.6.1.1: a token exchange with a DPoP proof gets an ID-JAG bound to its key.
            DpopSigningAlgValuesSupported = ctx.RequestServices.GetRequiredService<Ema.Tokens.Dpop.DpopProofValidator>().AllowedAlgorithms,
        };
        ctx.Response.Headers.CacheControl = "public, max-age=300";
        ctx.Response.ContentType = MediaTypes.Json;
        return JsonSerializer.SerializeAsync(ctx.Response.Body, metadata, EmaJsonContext.Default.OpenIdProviderMetadata, ctx.RequestAborted);
    }

    private static async Task TokenAsync(HttpContext ctx)
    {
        var service = ctx.RequestServices.GetRequiredKeyedService<TokenEndpointService>(EmaRoles.IdentityProvider);
        var remote = ctx.Connection.RemoteIpAddress?.ToString();
        var form = await RequestBody.ReadFormAsync(ctx.Request, FormParserOptions.Default).ConfigureAwait(false);
        var result = form.IsSuccess
            ? await service.HandleAsync(form.Parameters!, ctx.Request.Headers.Authorization.FirstOrDefault(), remote, RequestBody.DpopProofs(ctx.Request), ctx.RequestAborted).ConfigureAwait(false)
            : await service.RejectAsync(form.Error!, remote, null, null, ctx.RequestAborted).ConfigureAwait(false);
        await WriteTokenResultAsync(ctx, result).ConfigureAwait(false);
    }

    // RFC 7009 §2.2: 200 with no body when the token is revoked or unknown; otherwise the token endpoint's error format.
    private static async Task RevokeAsync(HttpContext ctx)
    {
        var service = ctx.RequestServices.GetRequiredService<TokenRevocationService>();
        var remote = ctx.Connection.RemoteIpAddress?.ToString();
        var form = await RequestBody.ReadFormAsync(ctx.Request, FormParserOptions.Default).ConfigureAwait(false);
        var result = form.IsSuccess
            ? await service.HandleAsync(form.Parameters!, ctx.Request.Headers.Authorization.FirstOrDefault(), remote, ctx.RequestAborted).ConfigureAwait(false)
            : await service.RejectAsync(form.Error!, remote, ctx.RequestAborted).ConfigureAwait(false);
        if (result.Error is not null)
        {
            await OAuthErrorWriter.WriteTokenErrorAsync(ctx, result.Error, result.BasicChallenge).ConfigureAwait(false);
            return;
        }

        ctx.Response.StatusCode = StatusCodes.Status200OK;
        ctx.Response.Headers.CacheControl = "no-store";
    }

    internal static Task WriteTokenResultAsync(HttpContext ctx, TokenEndpointResult result)
    {
        if (result.Error is not null)
        {
            return OAuthErrorWriter.WriteTokenErrorAsync(ctx, result.Error, result.BasicChallenge);
        }

        return result.Body switch
        {
            TokenExchangeResponse exchange => OAuthErrorWriter.WriteJsonNoStoreAsync(ctx, exchange, EmaJsonContext.Default.TokenExchangeResponse),
            AccessTokenResponse tokens => OAuthErrorWriter.WriteJsonNoStoreAsync(ctx, tokens, EmaJsonContext.Default.AccessTokenResponse),
            _ => OAuthErrorWriter.WriteTokenErrorAsync(ctx, OAuthError.ServerError("empty result")),
        };
    }

    private static async Task AuthorizeAsync(HttpContext ctx, string prefix, string cookieName)
    {
        var query = ctx.Request.Query;

        // RFC 6749 §3.1: parameters MUST NOT be included more than once.
        if (query.Any(q => q.Value.Count > 1))
        {
            await Pages.ErrorAsync(ctx, "Invalid request", "A request parameter was included more than once.", StatusCodes.Status400BadRequest).ConfigureAwait(false);
            return;
        }

        var service = ctx.RequestServices.GetRequiredService<AuthorizationEndpointService>();
        var session = await service.FindSessionAsync(ctx.Request.Cookies[cookieName], ctx.RequestAborted).ConfigureAwait(false);
        var result = await service.AuthorizeAsync(name => query.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v.ToString() : null, session, ctx.RequestAborted).ConfigureAwait(false);
        await RenderAsync(ctx, result, prefix).ConfigureAwait(false);
    }

    private static Task RenderAsync(HttpContext ctx, AuthorizeResult result, string prefix)
    {
        switch (result.Action)
        {
            case AuthorizeAction.Redirect:
                Pages.SecurityHeaders(ctx.Response);
                ctx.Response.Redirect(result.RedirectUri!);
                return Task.CompletedTask;
            case AuthorizeAction.SignIn:
                Pages.SecurityHeaders(ctx.Response);
                ctx.Response.Redirect($"{prefix}/signin?request={Uri.EscapeDataString(result.PendingId!)}");
                return Task.CompletedTask;
            default:
                return Pages.ErrorAsync(ctx, "This sign-in request cannot be completed", result.Error?.Description ?? "Invalid request.", StatusCodes.Status400BadRequest);
        }
    }

    private static async Task SignInPageAsync(HttpContext ctx, string prefix)
    {
        var service = ctx.RequestServices.GetRequiredService<AuthorizationEndpointService>();
        var pending = await service.FindPendingAsync(ctx.Request.Query["request"].ToString(), ctx.RequestAborted).ConfigureAwait(false);
        if (pending is null)
        {
            await Pages.ErrorAsync(ctx, "Sign-in expired", OAuthError.From(ErrorIds.AuthorizeRequestExpired).Description, StatusCodes.Status400BadRequest).ConfigureAwait(false);
            return;
        }

        var client = await ctx.RequestServices.GetRequiredService<IApplicationStore>().FindClientAsync(pending.ClientId, ctx.RequestAborted).ConfigureAwait(false);
        var antiforgery = ctx.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(ctx);
        await Pages.SignInAsync(ctx, prefix + "/signin", pending.Id, client?.Name ?? pending.ClientId, antiforgery.FormFieldName, antiforgery.RequestToken!, null, null, askOneTimeCode: AuthorizationEndpointService.AsksForMfa(pending.AcrValues)).ConfigureAwait(false);
    }

    private static async Task SignInAsync(HttpContext ctx, string prefix, string cookieName, bool secure, IdentityProviderOptions options)
    {
        if (!ctx.Request.HasFormContentType)
        {
            await Pages.ErrorAsync(ctx, "Invalid request", "The sign-in form was not submitted correctly.", StatusCodes.Status400BadRequest).ConfigureAwait(false);
            return;
        }

        var antiforgery = ctx.RequestServices.GetRequiredService<IAntiforgery>();
        if (!await antiforgery.IsRequestValidAsync(ctx).ConfigureAwait(false))
        {
            await Pages.ErrorAsync(ctx, "Sign-in form expired", "The sign-in form is no longer valid. Go back to the application and start again.", StatusCodes.Status400BadRequest).ConfigureAwait(false);
            return;
        }

        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted).ConfigureAwait(false);
        var pendingId = form["request"].ToString();
        var username = form["username"].ToString();
        var password = form["password"].ToString();
        var service = ctx.RequestServices.GetRequiredService<AuthorizationEndpointService>();
        var otp = form["otp"].ToString() is { Length: > 0 } code ? code : null;
        var result = form["enrollment"].ToString() is { Length: > 0 } enrollment
            ? await service.CompleteMfaEnrollmentAsync(pendingId, enrollment, otp, ctx.Connection.RemoteIpAddress?.ToString(), ctx.RequestAborted).ConfigureAwait(false)
            : await service.SignInAsync(pendingId, username, password, ctx.Connection.RemoteIpAddress?.ToString(), ctx.RequestAborted, otp).ConfigureAwait(false);
        if (!result.Succeeded && result.Enrollment is { } setUp)
        {
            var enrollTokens = antiforgery.GetAndStoreTokens(ctx);
            await Pages.MfaEnrollmentAsync(ctx, prefix + "/signin", pendingId, enrollTokens.FormFieldName, enrollTokens.RequestToken!, setUp.SecretBase32, setUp.OtpAuthUri, setUp.Token, result.Message).ConfigureAwait(false);
            return;
        }

        if (!result.Succeeded)
        {
            var pending = await service.FindPendingAsync(pendingId, ctx.RequestAborted).ConfigureAwait(false);
            if (pending is null)
            {
                await Pages.ErrorAsync(ctx, "Sign-in expired", result.Message ?? "Start again from the application.", StatusCodes.Status400BadRequest).ConfigureAwait(false);
                return;
            }

            var client = await ctx.RequestServices.GetRequiredService<IApplicationStore>().FindClientAsync(pending.ClientId, ctx.RequestAborted).ConfigureAwait(false);
            var tokens = antiforgery.GetAndStoreTokens(ctx);
            await Pages.SignInAsync(ctx, prefix + "/signin", pending.Id, client?.Name ?? pending.ClientId, tokens.FormFieldName, tokens.RequestToken!, username, result.Message, StatusCodes.Status200OK, AuthorizationEndpointService.AsksForMfa(pending.AcrValues)).ConfigureAwait(false);
            return;
        }

        ctx.Response.Cookies.Append(cookieName, result.SessionHandle!, new CookieOptions
        {
            HttpOnly = true,
            Secure = secure,
            SameSite = SameSiteMode.Lax,
            Path = "/",
            MaxAge = options.SessionLifetime,
            IsEssential = true,
        });
        await RenderAsync(ctx, result.Next!, prefix).ConfigureAwait(false);
    }

    private static async Task UserInfoAsync(HttpContext ctx)
    {
        var token = await ValidateBearerAsync(ctx).ConfigureAwait(false);
        if (token is null)
        {
            return;
        }

        var user = await ctx.RequestServices.GetRequiredService<IDirectoryStore>().FindUserAsync(token.Subject, ctx.RequestAborted).ConfigureAwait(false);
        if (user is null || user.Status != Model.UserStatus.Active)
        {
            OAuthErrorWriter.WriteBearerChallenge(ctx, OAuthError.InvalidToken("The user is no longer active."));
            return;
        }

        await OAuthErrorWriter.WriteJsonNoStoreAsync(
            ctx,
            new UserInfoResponse
            {
                Subject = user.Id,
                Name = token.Scopes.Contains(OidcScopes.Profile) ? user.DisplayName : null,
                PreferredUsername = token.Scopes.Contains(OidcScopes.Profile) ? user.Username : null,
                Email = token.Scopes.Contains(OidcScopes.Email) ? user.Email : null,
            },
            EmaJsonContext.Default.UserInfoResponse).ConfigureAwait(false);
    }

    private static async Task CatalogAsync(HttpContext ctx)
    {
        var token = await ValidateBearerAsync(ctx).ConfigureAwait(false);
        if (token is null)
        {
            return;
        }

        var services = ctx.RequestServices;
        var directory = services.GetRequiredService<IDirectoryStore>();
        var user = await directory.FindUserAsync(token.Subject, ctx.RequestAborted).ConfigureAwait(false);
        var client = await services.GetRequiredService<IApplicationStore>().FindClientAsync(token.ClientId, ctx.RequestAborted).ConfigureAwait(false);
        if (user is null || client is null)
        {
            OAuthErrorWriter.WriteBearerChallenge(ctx, OAuthError.InvalidToken("The user or client no longer exists."));
            return;
        }

        var groups = await directory.GetGroupIdsAsync(user.Id, ctx.RequestAborted).ConfigureAwait(false);
        var roles = await directory.GetRolesAsync(user.Id, ctx.RequestAborted).ConfigureAwait(false);
        var entitled = await services.GetRequiredService<IAccessPolicy>().ListEntitledAsync(user, groups, roles, client, ctx.RequestAborted).ConfigureAwait(false);
        await OAuthErrorWriter.WriteJsonNoStoreAsync(
            ctx,
            new CatalogResponse
            {
                Servers = [.. entitled.Select(e => new CatalogServer { Name = e.Resource.DisplayName, Resource = e.Resource.Resource, AuthorizationServer = e.Resource.AuthorizationServerIssuer, Scopes = e.Scopes })],
            },
            EmaJsonContext.Default.CatalogResponse).ConfigureAwait(false);
    }

    private static async Task<Ema.Tokens.AccessTokens.ValidatedAccessToken?> ValidateBearerAsync(HttpContext ctx)
    {
        var bearer = RequestBody.BearerToken(ctx.Request);
        if (bearer is null)
        {
            OAuthErrorWriter.WriteBearerChallenge(ctx, null);
            return null;
        }

        var result = await ctx.RequestServices.GetRequiredService<IdentityProviderTokens>().AccessTokenValidator.ValidateAsync(bearer, ctx.RequestAborted).ConfigureAwait(false);
        if (!result.IsValid)
        {
            OAuthErrorWriter.WriteBearerChallenge(ctx, result.Error);
            return null;
        }

        return result.Value;
    }

    private static async Task EndSessionAsync(HttpContext ctx, string cookieName)
    {
        var service = ctx.RequestServices.GetRequiredService<AuthorizationEndpointService>();
        var session = await service.FindSessionAsync(ctx.Request.Cookies[cookieName], ctx.RequestAborted).ConfigureAwait(false);
        if (session is not null)
        {
            await service.SignOutAsync(session, ctx.Connection.RemoteIpAddress?.ToString(), ctx.RequestAborted).ConfigureAwait(false);
        }

        ctx.Response.Cookies.Delete(cookieName, new CookieOptions { Path = "/", Secure = ctx.Request.IsHttps, HttpOnly = true });

        // OIDC RP-Initiated Logout §2: redirect only to a URI registered for the client the id_token_hint was issued to.
        var redirect = ctx.Request.Query[OAuthParameters.PostLogoutRedirectUri].ToString();
        var hint = ctx.Request.Query[OAuthParameters.IdTokenHint].ToString();
        if (redirect.Length > 0 && hint.Length > 0)
        {
            var idToken = await ctx.RequestServices.GetRequiredService<IdentityProviderTokens>().IdTokenValidator.ValidateAsync(hint, ctx.RequestAborted).ConfigureAwait(false);
            var audience = idToken.Value?.Audiences.FirstOrDefault();

            // An expired hint still names its client; only a valid signature is required to trust the audience.
            if (audience is not null || idToken.Failure == Ema.Tokens.IdTokens.IdTokenFailure.Expired)
            {
                var client = audience is null ? null : await ctx.RequestServices.GetRequiredService<IApplicationStore>().FindClientAsync(audience, ctx.RequestAborted).ConfigureAwait(false);
                if (client is not null && client.PostLogoutRedirectUris.Contains(redirect, StringComparer.Ordinal))
                {
                    var state = ctx.Request.Query[OAuthParameters.State].ToString();
                    Pages.SecurityHeaders(ctx.Response);
                    ctx.Response.Redirect(state.Length > 0 ? redirect + (redirect.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "state=" + Uri.EscapeDataString(state) : redirect);
                    return;
                }
            }
        }

        await Pages.SignedOutAsync(ctx).ConfigureAwait(false);
    }
}
