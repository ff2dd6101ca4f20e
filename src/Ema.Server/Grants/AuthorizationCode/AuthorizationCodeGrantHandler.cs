using System.Security.Cryptography;
using System.Text;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;

namespace Ema.Server.Grants.AuthorizationCode;

/// <summary>
/// RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6): redeems a single-use code for an ID token, an access token and, with
/// <c>offline_access</c>, a refresh token.
/// </summary>
public sealed class AuthorizationCodeGrantHandler : IGrantHandler
{
    private readonly IGrantStore _grants;
    private readonly IDirectoryStore _directory;
    private readonly IdentityProviderTokens _tokens;
    private readonly TimeProvider _time;

    public AuthorizationCodeGrantHandler(IGrantStore grants, IDirectoryStore directory, IdentityProviderTokens tokens, TimeProvider time)
    {
        _grants = grants;
        _directory = directory;
        _tokens = tokens;
        _time = time;
    }

    public string GrantType => GrantTypes.AuthorizationCode;

    public string AuditType => AuditEventTypes.TokenRequest;

    public IReadOnlyList<string> Parameters { get; } = [OAuthParameters.Code, OAuthParameters.RedirectUri, OAuthParameters.CodeVerifier];

    public async Task<GrantResult> HandleAsync(TokenRequestContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var form = context.Request.Parameters;
        var code = form[OAuthParameters.Code];
        var verifier = form[OAuthParameters.CodeVerifier];
        var redirectUri = form[OAuthParameters.RedirectUri];
        foreach (var (name, value) in new[] { (OAuthParameters.Code, code), (OAuthParameters.CodeVerifier, verifier), (OAuthParameters.RedirectUri, redirectUri) })
        {
            if (value is null)
            {
                return GrantResult.Fail(TokenRequest.MissingParameter(name));
            }
        }

        // RFC 6749 §10.5: a code is single use; the store takes it atomically.
        var grant = await _grants.RedeemAuthorizationCodeAsync(SecretHasher.Hash(code!), cancellationToken).ConfigureAwait(false);
        if (grant is null || grant.ExpiresAt <= _time.GetUtcNow() || grant.ClientId != context.Client.Client.ClientId)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.AuthorizationCodeInvalid, grant is null ? "unknown or used" : "expired or other client"), new() { Subject = grant?.UserId });
        }

        var audit = new GrantAuditDetails { Subject = grant.UserId, SessionId = grant.SessionId, Scope = grant.Scope };

        // RFC 6749 §4.1.3: redirect_uri must be identical to the one of the authorization request.
        if (!string.Equals(redirectUri, grant.RedirectUri, StringComparison.Ordinal))
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.RedirectUriMismatch), audit);
        }

        // RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) must equal the S256 challenge; verifier syntax per §4.1.
        if (!IsValidVerifier(verifier!) || !CryptographicOperations.FixedTimeEquals(
                Encoding.ASCII.GetBytes(SecretHasher.Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier!)))),
                Encoding.ASCII.GetBytes(grant.CodeChallenge)))
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.PkceVerifierInvalid), audit);
        }

        var session = await _grants.FindSessionAsync(grant.SessionId, cancellationToken).ConfigureAwait(false);
        if (session is null || session.Revoked)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.SessionEnded), audit);
        }

        var user = await _directory.FindUserAsync(grant.UserId, cancellationToken).ConfigureAwait(false);
        if (user is null || user.Status != UserStatus.Active)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.UserDisabled), audit);
        }

        // "My connections": a code issued before the user disconnected this client is void, as every grant it held then.
        if (await _grants.IsVoidedByDisconnectionAsync(user.Id, grant.ClientId, grant.IssuedAt, cancellationToken).ConfigureAwait(false))
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.ClientDisconnected), audit);
        }

        var allowRefresh = context.Client.Client.GrantTypes.Contains(GrantTypes.RefreshToken, StringComparer.Ordinal);
        var (response, idToken, refresh) = _tokens.IssueSignInTokens(user, grant.ClientId, grant.Scope, grant.SessionId, grant.AuthTime, grant.Amr, grant.Acr, grant.Nonce, allowRefresh, null, _time);
        if (refresh is not null)
        {
            await _grants.SaveRefreshTokenAsync(refresh, cancellationToken).ConfigureAwait(false);
        }

        return new GrantResult { Tokens = response, Audit = audit with { TokenId = idToken.JwtId } };
    }

    // RFC 7636 §4.1: 43–128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
    internal static bool IsValidVerifier(string verifier) =>
        verifier.Length is >= 43 and <= 128 && verifier.All(c => c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.' or '_' or '~');
}
