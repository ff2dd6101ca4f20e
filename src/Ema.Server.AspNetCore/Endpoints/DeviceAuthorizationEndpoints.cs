using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.AspNetCore.Results;
using Ema.Server.Clients;
using Ema.Server.IdentityProvider;
using Ema.Server.Security;
using Ema.Server.Stores;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.Server.AspNetCore.Endpoints;

/// <summary>
/// RFC 8628 at the IdP: the device authorization endpoint (§3.1–3.2) and the verification page (§3.3) where the user
/// enters the code shown on the device and signs in with the same checks as the sign-in page (lockout, one audit record).
/// </summary>
internal static class DeviceAuthorizationEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints, string prefix, string issuer)
    {
        endpoints.MapPost(prefix + DevicePaths.Authorization, (HttpContext ctx) => StartAsync(ctx, issuer + DevicePaths.Verification));
        endpoints.MapGet(prefix + DevicePaths.Verification, (HttpContext ctx) => ShowAsync(ctx, prefix));
        endpoints.MapPost(prefix + DevicePaths.Verification, (HttpContext ctx) => VerifyAsync(ctx, prefix));
    }

    private static async Task StartAsync(HttpContext ctx, string verificationUri)
    {
        var form = await RequestBody.ReadFormAsync(ctx.Request, FormParserOptions.Default).ConfigureAwait(false);
        if (!form.IsSuccess)
        {
            await OAuthErrorWriter.WriteTokenErrorAsync(ctx, form.Error!).ConfigureAwait(false);
            return;
        }

        var parameters = form.Parameters!;
        var request = TokenRequest.WithClientCredentials(parameters, GrantTypes.DeviceCode);
        var authentication = await ctx.RequestServices.GetRequiredKeyedService<ClientAuthenticator>(EmaRoles.IdentityProvider).AuthenticateAsync(ctx.Request.Headers.Authorization.FirstOrDefault(), request, ctx.RequestAborted).ConfigureAwait(false);
        OAuthError? error = authentication.IsSuccess ? null : authentication.Error;
        var clientId = authentication.Identity?.Client.ClientId ?? request.ClientId;
        if (error is null && !authentication.Identity!.Client.GrantTypes.Contains(GrantTypes.DeviceCode, StringComparer.Ordinal))
        {
            error = OAuthError.From(ErrorIds.GrantTypeNotAllowed, $"client_id={clientId}");
        }

        // The same scope rules as /authorize (RFC 6749 §3.3 syntax, duplicates dropped), and openid is required.
        var valid = Ema.Tokens.ScopeList.TryParse(parameters[OAuthParameters.Scope] ?? OidcScopes.OpenId, out var scopes) && scopes.Contains(OidcScopes.OpenId);
        if (error is null && !valid)
        {
            error = OAuthError.From(ErrorIds.AuthorizeScopeInvalid);
        }

        var scope = string.Join(' ', scopes);
        var time = ctx.RequestServices.GetRequiredService<TimeProvider>();
        DeviceAuthorization? started = null;
        string? deviceCode = null;
        if (error is null)
        {
            if (ctx.RequestServices.GetRequiredService<DeviceAuthorizationService>().Start(clientId!, scope) is { } begun)
            {
                (deviceCode, started) = begun;
            }
            else
            {
                error = OAuthError.From(ErrorIds.DeviceAuthorizationsExhausted);
            }
        }

        // One audit record per decision, written before the answer (no device code in it: it is a credential).
        await ctx.RequestServices.GetRequiredService<IAuditSink>().WriteAsync(new AuditEvent
        {
            Id = SecretHasher.NewOrderedId("evt_", time.GetUtcNow()),
            Time = time.GetUtcNow(),
            Type = AuditEventTypes.TokenRequest,
            Action = "device_authorization",
            Outcome = error is null ? AuditOutcomes.Granted : AuditOutcomes.Denied,
            ErrorId = error?.ErrorId,
            Reason = error?.Description,
            ClientId = clientId,
            Scope = scope,
            RemoteAddress = ctx.Connection.RemoteIpAddress?.ToString(),
        }, ctx.RequestAborted).ConfigureAwait(false);

        if (error is not null)
        {
            await OAuthErrorWriter.WriteTokenErrorAsync(ctx, error, authentication.BasicAttempted && error.StatusCode == 401).ConfigureAwait(false);
            return;
        }

        await OAuthErrorWriter.WriteJsonNoStoreAsync(ctx, new DeviceAuthorizationResponse
        {
            DeviceCode = deviceCode!,
            UserCode = started!.UserCode,
            VerificationUri = verificationUri,
            VerificationUriComplete = verificationUri + "?" + OAuthParameters.UserCode + "=" + Uri.EscapeDataString(started.UserCode),
            ExpiresIn = (long)(started.ExpiresAt - time.GetUtcNow()).TotalSeconds,
            Interval = DeviceAuthorizationService.PollingIntervalSeconds,
        }, EmaJsonContext.Default.DeviceAuthorizationResponse).ConfigureAwait(false);
    }

    /// <summary>GET: without a code, ask for it; with a live code, show who asks for what (RFC 8628 §5.4: the user
    /// must see which client gets the sign-in) and ask for the password and an explicit Allow or Deny.</summary>
    private static async Task ShowAsync(HttpContext ctx, string prefix)
    {
        var typed = ctx.Request.Query[OAuthParameters.UserCode].ToString();
        if (typed.Length == 0)
        {
            await Pages.DeviceCodeAsync(ctx, prefix + DevicePaths.Verification, null, null).ConfigureAwait(false);
            return;
        }

        var (pending, limited) = ctx.RequestServices.GetRequiredService<DeviceAuthorizationService>().FindByUserCode(typed, ctx.Connection.RemoteIpAddress?.ToString());
        if (pending is null)
        {
            await Pages.DeviceCodeAsync(ctx, prefix + DevicePaths.Verification, typed, limited ? TooManyAttempts : UnknownCode).ConfigureAwait(false);
            return;
        }

        await ConsentAsync(ctx, prefix, pending, null, null).ConfigureAwait(false);
    }

    private const string UnknownCode = "That code is unknown or has expired. Check the code on your device, or start again there.";
    private const string TooManyAttempts = "Too many wrong codes from this address. Wait a minute and try again.";

    private static async Task VerifyAsync(HttpContext ctx, string prefix)
    {
        if (!ctx.Request.HasFormContentType || !await ctx.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(ctx).ConfigureAwait(false))
        {
            await Pages.ErrorAsync(ctx, "Form expired", "The form is no longer valid. Open the device sign-in page again.", StatusCodes.Status400BadRequest).ConfigureAwait(false);
            return;
        }

        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted).ConfigureAwait(false);
        var userCode = form[OAuthParameters.UserCode].ToString();
        var username = form["username"].ToString();
        var devices = ctx.RequestServices.GetRequiredService<DeviceAuthorizationService>();
        var (pending, limited) = devices.FindByUserCode(userCode, ctx.Connection.RemoteIpAddress?.ToString());
        if (pending is null)
        {
            await Pages.DeviceCodeAsync(ctx, prefix + DevicePaths.Verification, userCode, limited ? TooManyAttempts : UnknownCode).ConfigureAwait(false);
            return;
        }

        var service = ctx.RequestServices.GetRequiredService<AuthorizationEndpointService>();
        var (session, _, message, _) = await service.AuthenticateAsync(pending.ClientId, username, form["password"].ToString(), ctx.Connection.RemoteIpAddress?.ToString(), ctx.RequestAborted).ConfigureAwait(false);
        if (session is null)
        {
            await ConsentAsync(ctx, prefix, pending, username, message).ConfigureAwait(false);
            return;
        }

        if (form["decision"].ToString() != "allow")
        {
            devices.Deny(pending);
            await Pages.MessageAsync(ctx, "Device not connected", "You declined. The device was not signed in.").ConfigureAwait(false);
            return;
        }

        if (!devices.Approve(pending, session))
        {
            await Pages.DeviceCodeAsync(ctx, prefix + DevicePaths.Verification, userCode, UnknownCode).ConfigureAwait(false);
            return;
        }

        await Pages.MessageAsync(ctx, "Device connected", "You are signed in on your device. You can close this window.").ConfigureAwait(false);
    }

    private static async Task ConsentAsync(HttpContext ctx, string prefix, DeviceAuthorization pending, string? username, string? error)
    {
        var client = await ctx.RequestServices.GetRequiredService<IApplicationStore>().FindClientAsync(pending.ClientId, ctx.RequestAborted).ConfigureAwait(false);
        var antiforgery = ctx.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(ctx);
        await Pages.DeviceAsync(ctx, prefix + DevicePaths.Verification, pending.UserCode, client?.Name ?? pending.ClientId, pending.Scope, antiforgery.FormFieldName, antiforgery.RequestToken!, username, error).ConfigureAwait(false);
    }
}
