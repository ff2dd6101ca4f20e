using System.Text.Encodings.Web;
using Ema.Admin.Console;
using Ema.Protocol;
using Ema.Server.IdentityProvider;
using Ema.Server.Stores;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ema.Admin.Api;

/// <summary>
/// Bearer authentication of the admin API for the <c>ema admin</c> CLI (RFC 6750): an access token of this IdP
/// (signature, issuer, audience = the IdP, lifetime: <see cref="IdentityProviderTokens.AccessTokenValidator"/>) issued to
/// the registered CLI client <see cref="ConsoleNames.CliClientId"/> — never a token another client obtained for the same
/// user, which would hand an MCP client admin power. As for the console cookie, each request re-reads the user (active),
/// their roles, and the IdP session named by the token's <c>sid</c> (not revoked, not expired): revoking the session or
/// the role ends the token's use at once. The token's <c>auth_time</c> and <c>amr</c> feed the same MFA and step-up
/// rules as a console sign-in.
/// </summary>
internal sealed class AdminApiBearerHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "EmaAdminBearer";

    /// <summary>The admin API's scheme: forwards to this one or to the console cookie, never both (see the registration).</summary>
    public const string ApiSchemeName = "EmaAdminApi";

    /// <summary>
    /// How long after its sign-in a CLI token may be issued: the CLI asks for <c>max_age=0</c>, so its code is redeemed
    /// seconds after the user authenticated. A token minted later came from a silent sign-in on a standing IdP session —
    /// any local program can name the public client — and is refused.
    /// </summary>
    public static readonly TimeSpan MaxSignInToIssue = TimeSpan.FromMinutes(5);

    private OAuthError? _error;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith(HeaderValues.BearerScheme + " ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var services = Context.RequestServices;
        var result = await services.GetRequiredService<IdentityProviderTokens>().AccessTokenValidator.ValidateAsync(header[(HeaderValues.BearerScheme.Length + 1)..].Trim(), Context.RequestAborted).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return Refuse(result.Error!);
        }

        var token = result.Value!;
        if (!string.Equals(token.ClientId, ConsoleNames.CliClientId, StringComparison.Ordinal))
        {
            return Refuse(OAuthError.InvalidToken($"The admin API takes tokens issued to {ConsoleNames.CliClientId} only.", $"client_id={token.ClientId} jti={token.JwtId}"));
        }

        if (token.AuthTime is not { } authTime || token.IssuedAt - authTime > MaxSignInToIssue)
        {
            return Refuse(OAuthError.InvalidToken("The admin API takes tokens of a fresh sign-in only: run ema admin login.", $"jti={token.JwtId}"));
        }

        // Disabling the CLI client (for example during an incident) ends its tokens at once, not at their expiry.
        var cli = await services.GetRequiredService<IApplicationStore>().FindClientAsync(ConsoleNames.CliClientId, Context.RequestAborted).ConfigureAwait(false);
        if (cli is null || !cli.Enabled)
        {
            return Refuse(OAuthError.InvalidToken($"The client {ConsoleNames.CliClientId} is disabled.", $"jti={token.JwtId}"));
        }

        if (await ConsoleSignIn.FindLiveAccountAsync(services, token.Subject, token.SessionId, Context.RequestAborted).ConfigureAwait(false) is not var (user, session, roles))
        {
            return Refuse(OAuthError.InvalidToken("The sign-in this token came from has ended: sign in again.", $"jti={token.JwtId}"));
        }

        var principal = new ConsoleUser(user.Id, user.Username, user.DisplayName, roles, authTime, token.Amr ?? [], session.Id).ToPrincipal();
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        // RFC 6750 §3: the challenge names the error when a token was presented and refused.
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = _error is null
            ? HeaderValues.BearerScheme
            : $"{HeaderValues.BearerScheme} {BearerChallengeParameters.Error}=\"{_error.Code}\", {BearerChallengeParameters.ErrorDescription}=\"{_error.Description.Replace("\"", "'", StringComparison.Ordinal)}\"";
        return Task.CompletedTask;
    }

    private AuthenticateResult Refuse(OAuthError error)
    {
        _error = error;
        Log.AdminBearerRefused(Logger, error.ErrorId, error.Debug ?? error.Description);
        return AuthenticateResult.Fail(error.Description);
    }
}
