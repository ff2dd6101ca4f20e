using Ema.Protocol;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Security;
using Ema.Tokens;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.IdJag;
using Ema.Tokens.IdTokens;
using Ema.Tokens.Keys;
using Microsoft.Extensions.Options;

namespace Ema.Server.IdentityProvider;

/// <summary>The IdP's signing keys and minters, bound to its issuer and key ring (created once at start-up).</summary>
public sealed class IdentityProviderTokens
{
    /// <summary>Key purpose of the IdP's ring.</summary>
    public const string KeyPurpose = "idp";

    private readonly IdentityProviderOptions _options;

    public IdentityProviderTokens(IOptions<IdentityProviderOptions> options, SigningKeyRing ring, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        Ring = ring;
        IdTokens = new IdTokenMinter(ring, time);
        IdJags = new IdJagMinter(ring, time);
        AccessTokens = new AccessTokenMinter(ring, time);
        IdTokenValidator = new IdTokenValidator(_options.Issuer, ring, time);
        AccessTokenValidator = new AccessTokenValidator(new AccessTokenValidationParameters { Issuer = _options.Issuer, Audience = _options.Issuer, Keys = ring }, time);
    }

    public string Issuer => _options.Issuer;

    public SigningKeyRing Ring { get; }

    public IdTokenMinter IdTokens { get; }

    public IdJagMinter IdJags { get; }

    /// <summary>Mints the IdP's own access tokens (audience: the IdP, for userinfo and the catalog).</summary>
    public AccessTokenMinter AccessTokens { get; }

    public IdTokenValidator IdTokenValidator { get; }

    public AccessTokenValidator AccessTokenValidator { get; }

    /// <summary>Issues the ID token, access token and (with offline_access) refresh token of a sign-in.</summary>
    internal (AccessTokenResponse Response, MintedToken IdToken, RefreshTokenGrant? Refresh) IssueSignInTokens(
        User user, string clientId, string scope, string sessionId, DateTimeOffset authTime, IReadOnlyList<string> amr, string? acr, string? nonce, bool allowRefresh, string? refreshFamily, TimeProvider time)
    {
        var scopes = scope.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var idToken = IdTokens.Mint(new IdTokenDescriptor
        {
            Issuer = Issuer,
            Subject = user.Id,
            Audience = clientId,
            Lifetime = _options.IdTokenLifetime,
            Nonce = nonce,
            AuthTime = authTime,
            Amr = amr,
            Acr = acr,
            SessionId = sessionId,
            Name = scopes.Contains(OidcScopes.Profile) ? user.DisplayName : null,
            PreferredUsername = scopes.Contains(OidcScopes.Profile) ? user.Username : null,
            Email = scopes.Contains(OidcScopes.Email) ? user.Email : null,
        });
        var accessToken = AccessTokens.Mint(new AccessTokenDescriptor
        {
            Issuer = Issuer,
            Subject = user.Id,
            Audience = Issuer,
            ClientId = clientId,
            Scope = scope,
            Lifetime = _options.AccessTokenLifetime,
            AuthTime = authTime,
            Amr = amr,
            Acr = acr,
            SessionId = sessionId,
        });

        RefreshTokenGrant? refresh = null;
        string? refreshToken = null;
        if (allowRefresh && scopes.Contains(OidcScopes.OfflineAccess))
        {
            refreshToken = SecretHasher.NewSecret();
            refresh = new RefreshTokenGrant
            {
                TokenHash = SecretHasher.Hash(refreshToken),
                FamilyId = refreshFamily ?? SecretHasher.NewId("rtf_"),
                ClientId = clientId,
                UserId = user.Id,
                SessionId = sessionId,
                Scope = scope,
                AuthTime = authTime,
                Amr = amr,
                Acr = acr,
                ExpiresAt = time.GetUtcNow() + _options.RefreshTokenLifetime,
            };
        }

        var response = new AccessTokenResponse
        {
            AccessToken = accessToken.Token,
            ExpiresIn = accessToken.ExpiresIn,
            Scope = scope,
            IdToken = idToken.Token,
            RefreshToken = refreshToken,
        };
        return (response, idToken, refresh);
    }
}
