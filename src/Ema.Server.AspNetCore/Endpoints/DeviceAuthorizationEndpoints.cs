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
        endpoints.MapGet(prefix + DevicePaths.Verification, (HttpContext ctx) => PageAsync(ctx, prefix, ctx.Request.Query[OAuthParameters.UserCode].ToString(), null, null));
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
        var request = new TokenRequest
        {
            GrantType = GrantTypes.DeviceCode,
            ClientId = parameters[OAuthParameters.ClientId],
            ClientSecret = parameters[OAuthParameters.ClientSecret],
            ClientAssertion = parameters[OAuthParameters.ClientAssertion],
            ClientAssertionType = parameters[OAuthParameters.ClientAssertionType],
            Parameters = parameters,
        };
        var authentication = await new ClientAuthenticator(ctx.RequestServices.GetRequiredService<IApplicationStore>()).AuthenticateAsync(ctx.Request.Headers.Authorization.FirstOrDefault(), request, ctx.RequestAborted).ConfigureAwait(false);
        OAuthError? error = authentication.IsSuccess ? null : authentication.Error;
        var clientId = authentication.Identity?.Client.ClientId ?? request.ClientId;
        if (error is null && !authentication.Identity!.Client.GrantTypes.Contains(GrantTypes.DeviceCode, StringComparer.Ordinal))
        {
            error = OAuthError.From(ErrorIds.GrantTypeNotAllowed, $"client_id={clientId}");
        }

        var scope = parameters[OAuthParameters.Scope] ?? OidcScopes.OpenId;
        if (error is null && !scope.Split(' ').Contains(OidcScopes.OpenId, StringComparer.Ordinal))
        {
            error = OAuthError.From(ErrorIds.AuthorizeScopeInvalid);
        }

        var time = ctx.RequestServices.GetRequiredService<TimeProvider>();
        DeviceAuthorization? started = null;
        string? deviceCode = null;
        if (error is null)
        {
            (deviceCode, started) = ctx.RequestServices.GetRequiredService<DeviceAuthorizationService>().Start(clientId!, scope);
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
        var pending = devices.FindByUserCode(userCode);
        if (pending is null)
        {
            await PageAsync(ctx, prefix, userCode, username, "That code is unknown or has expired. Check the code on your device, or start again there.").ConfigureAwait(false);
            return;
        }

        var service = ctx.RequestServices.GetRequiredService<AuthorizationEndpointService>();
        var (session, _, message) = await service.AuthenticateAsync(pending.ClientId, username, form["password"].ToString(), ctx.Connection.RemoteIpAddress?.ToString(), ctx.RequestAborted).ConfigureAwait(false);
        if (session is null)
        {
            await PageAsync(ctx, prefix, userCode, username, message).ConfigureAwait(false);
            return;
        }

        if (!devices.Approve(pending, session))
        {
            await PageAsync(ctx, prefix, userCode, username, "That code was already used.").ConfigureAwait(false);
            return;
        }

        await Pages.MessageAsync(ctx, "Device connected", "You are signed in on your device. You can close this window.").ConfigureAwait(false);
    }

    private static async Task PageAsync(HttpContext ctx, string prefix, string? userCode, string? username, string? error)
    {
        var antiforgery = ctx.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(ctx);
        await Pages.DeviceAsync(ctx, prefix + DevicePaths.Verification, userCode, antiforgery.FormFieldName, antiforgery.RequestToken!, username, error).ConfigureAwait(false);
    }
}
