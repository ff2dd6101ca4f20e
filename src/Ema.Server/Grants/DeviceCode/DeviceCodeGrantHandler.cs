using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Stores;

namespace Ema.Server.Grants.DeviceCode;

/// <summary>
/// RFC 8628 §3.4–3.5 device access token request: answers <c>authorization_pending</c> or <c>slow_down</c> until the user
/// approves on the verification page, then issues the sign-in tokens once, bound to the client that started it.
/// </summary>
public sealed class DeviceCodeGrantHandler(DeviceAuthorizationService devices, IDirectoryStore directory, IGrantStore grants, IdentityProviderTokens tokens, TimeProvider time) : IGrantHandler
{
    public string GrantType => GrantTypes.DeviceCode;

    public string AuditType => AuditEventTypes.TokenRequest;

    public IReadOnlyList<string> Parameters { get; } = [OAuthParameters.DeviceCode];

    public async Task<GrantResult> HandleAsync(TokenRequestContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var deviceCode = context.Request.Parameters[OAuthParameters.DeviceCode];
        if (deviceCode is null)
        {
            return GrantResult.Fail(TokenRequest.MissingParameter(OAuthParameters.DeviceCode));
        }

        var (approved, error) = devices.Poll(deviceCode, context.Client.Client.ClientId);
        if (approved is null)
        {
            return GrantResult.Fail(OAuthError.From(error!));
        }

        var session = approved.ApprovedSession!;
        var user = await directory.FindUserAsync(session.UserId, cancellationToken).ConfigureAwait(false);
        if (user is null || user.Status != UserStatus.Active)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.UserDisabled), new() { Subject = session.UserId });
        }

        // "My connections": a disconnection after the approval cancels it, as it ends every grant the client held before.
        if (approved.ApprovedAt is { } approvedAt && await grants.IsVoidedByDisconnectionAsync(user.Id, approved.ClientId, approvedAt, cancellationToken).ConfigureAwait(false))
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.ClientDisconnected), new() { Subject = user.Id, SessionId = session.Id });
        }

        var allowRefresh = context.Client.Client.GrantTypes.Contains(GrantTypes.RefreshToken, StringComparer.Ordinal);
        var (response, idToken, refresh) = tokens.IssueSignInTokens(user, approved.ClientId, approved.Scope, session.Id, session.AuthTime, session.Amr, session.Acr, null, allowRefresh, null, time);
        if (refresh is not null)
        {
            await grants.SaveRefreshTokenAsync(refresh, cancellationToken).ConfigureAwait(false);
        }

        return new GrantResult { Tokens = response, Audit = new() { Subject = user.Id, SessionId = session.Id, Scope = approved.Scope, TokenId = idToken.JwtId } };
    }
}
