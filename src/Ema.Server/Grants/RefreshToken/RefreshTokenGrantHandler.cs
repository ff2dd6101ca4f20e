using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Microsoft.Extensions.Logging;

namespace Ema.Server.Grants.RefreshToken;

/// <summary>
/// RFC 6749 §6 with rotation (OAuth 2.0 Security BCP §4.14.2): each refresh token is used once and replaced; presenting
/// a rotated token again revokes its whole family. The user and session are checked again on every use.
/// </summary>
public sealed class RefreshTokenGrantHandler : IGrantHandler
{
    private readonly IGrantStore _grants;
    private readonly IDirectoryStore _directory;
    private readonly IdentityProviderTokens _tokens;
    private readonly TimeProvider _time;
    private readonly ILogger<RefreshTokenGrantHandler> _logger;

    public RefreshTokenGrantHandler(IGrantStore grants, IDirectoryStore directory, IdentityProviderTokens tokens, TimeProvider time, ILogger<RefreshTokenGrantHandler> logger)
    {
        _grants = grants;
        _directory = directory;
        _tokens = tokens;
        _time = time;
        _logger = logger;
    }

    public string GrantType => GrantTypes.RefreshToken;

    public string AuditType => AuditEventTypes.TokenRequest;

    public IReadOnlyList<string> Parameters { get; } = [OAuthParameters.RefreshToken, OAuthParameters.Scope];

    public async Task<GrantResult> HandleAsync(TokenRequestContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var token = context.Request.Parameters[OAuthParameters.RefreshToken];
        if (token is null)
        {
            return GrantResult.Fail(TokenRequest.MissingParameter(OAuthParameters.RefreshToken));
        }

        var current = await RefreshTokenCheck.FindActiveAsync(_grants, _directory, token, context.Client.Client.ClientId, _time, cancellationToken).ConfigureAwait(false);
        if (current.Error is not null)
        {
            if (current.Error.ErrorId == ErrorIds.RefreshTokenReused.Id)
            {
                Log.RefreshTokenReuse(_logger, current.Grant!.FamilyId);
                await _grants.RevokeRefreshTokenFamilyAsync(current.Grant.FamilyId, cancellationToken).ConfigureAwait(false);
            }

            return GrantResult.Fail(current.Error, new() { Subject = current.Grant?.UserId });
        }

        var grant = current.Grant!;
        var allowRefresh = context.Client.Client.GrantTypes.Contains(GrantTypes.RefreshToken, StringComparer.Ordinal);
        var (response, idToken, successor) = _tokens.IssueSignInTokens(current.User!, grant.ClientId, grant.Scope, grant.SessionId, grant.AuthTime, grant.Amr, grant.Acr, null, allowRefresh, grant.FamilyId, _time);
        if (successor is null || !await _grants.RotateRefreshTokenAsync(grant.TokenHash, successor, cancellationToken).ConfigureAwait(false))
        {
            // Lost a race with another use of the same token: that is a reuse.
            Log.RefreshTokenReuse(_logger, grant.FamilyId);
            await _grants.RevokeRefreshTokenFamilyAsync(grant.FamilyId, cancellationToken).ConfigureAwait(false);
            return GrantResult.Fail(OAuthError.From(ErrorIds.RefreshTokenReused), new() { Subject = grant.UserId });
        }

        return new GrantResult { Tokens = response, Audit = new() { Subject = grant.UserId, SessionId = grant.SessionId, Scope = grant.Scope, TokenId = idToken.JwtId } };
    }
}

/// <summary>Shared checks for a refresh token presented by a client (refresh grant and token-exchange subject token).</summary>
internal static class RefreshTokenCheck
{
    public readonly record struct Result(RefreshTokenGrant? Grant, User? User, OAuthError? Error);

    public static async Task<Result> FindActiveAsync(IGrantStore grants, IDirectoryStore directory, string token, string clientId, TimeProvider time, CancellationToken cancellationToken, ErrorDescriptor? invalid = null)
    {
        invalid ??= ErrorIds.RefreshTokenInvalid;
        var grant = await grants.FindRefreshTokenAsync(SecretHasher.Hash(token), cancellationToken).ConfigureAwait(false);

        // Bound to the client it was issued to (RFC 6749 §6); unknown and foreign tokens get the same answer.
        if (grant is null || grant.ClientId != clientId)
        {
            return new(null, null, OAuthError.From(invalid, "unknown or other client"));
        }

        if (grant.ConsumedAt is not null)
        {
            return new(grant, null, OAuthError.From(ErrorIds.RefreshTokenReused));
        }

        if (grant.ExpiresAt <= time.GetUtcNow())
        {
            return new(grant, null, OAuthError.From(invalid, "expired"));
        }

        var session = await grants.FindSessionAsync(grant.SessionId, cancellationToken).ConfigureAwait(false);
        if (session is null || session.Revoked)
        {
            return new(grant, null, OAuthError.From(ErrorIds.SessionEnded));
        }

        var user = await directory.FindUserAsync(grant.UserId, cancellationToken).ConfigureAwait(false);
        return user is null || user.Status != UserStatus.Active
            ? new(grant, user, OAuthError.From(ErrorIds.UserDisabled))
            : new(grant, user, null);
    }
}
