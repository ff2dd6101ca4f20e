using Ema.Protocol;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;

namespace Ema.Tokens.AccessTokens;

/// <summary>The claims of an RFC 9068 access token (decision 16).</summary>
public sealed record AccessTokenDescriptor
{
    /// <summary><c>iss</c>: this authorization server.</summary>
    public required string Issuer { get; init; }

    /// <summary><c>sub</c>: the local account id.</summary>
    public required string Subject { get; init; }

    /// <summary><c>aud</c>: exactly one resource (EMA §5.1).</summary>
    public required string Audience { get; init; }

    /// <summary><c>client_id</c>.</summary>
    public required string ClientId { get; init; }

    /// <summary><c>scope</c> (space separated).</summary>
    public string? Scope { get; init; }

    /// <summary>Lifetime (decision 5: 10 minutes).</summary>
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary><c>auth_time</c>, copied from the ID-JAG when present.</summary>
    public DateTimeOffset? AuthTime { get; init; }

    /// <summary><c>acr</c>, copied from the ID-JAG when present.</summary>
    public string? Acr { get; init; }

    /// <summary><c>amr</c>, copied from the ID-JAG when present.</summary>
    public IReadOnlyList<string>? Amr { get; init; }

    /// <summary>
    /// <c>sid</c>: the IdP sign-in session the token came from (OIDC Front-Channel Logout §3), for the IdP's own tokens,
    /// so a resource can refuse the token once that session is revoked. Not set on the authorization server's tokens.
    /// </summary>
    public string? SessionId { get; init; }

    /// <summary>RFC 9449 §6.1: the thumbprint of the key the token is bound to (<c>cnf.jkt</c>); null for a Bearer token.</summary>
    public string? ConfirmationKeyThumbprint { get; init; }
}

/// <summary>Issues RFC 9068 JWT access tokens (header <c>typ: at+jwt</c>) audience-bound to one resource.</summary>
public sealed class AccessTokenMinter
{
    private readonly SigningKeyRing _keys;
    private readonly TimeProvider _time;

    /// <summary>Creates the minter.</summary>
    public AccessTokenMinter(SigningKeyRing keys, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(time);
        _keys = keys;
        _time = time;
    }

    /// <summary>Signs an access token.</summary>
    public MintedToken Mint(AccessTokenDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (descriptor.Lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(descriptor), "Access-token lifetime must be positive.");
        }

        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        var expiresAt = issuedAt + descriptor.Lifetime;
        var jti = JwtWriter.NewJwtId();
        var token = JwtWriter.Write(_keys.Current, JwtTypes.AccessToken, (descriptor, jti, issuedAt, expiresAt), static (json, s) =>
        {
            var d = s.descriptor;

            // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti are REQUIRED.
            JwtWriter.WriteRegisteredClaims(json, d.Issuer, d.Subject, d.Audience, s.jti, s.issuedAt, s.expiresAt);
            json.WriteString(JwtClaimNames.ClientId, d.ClientId);
            JwtWriter.WriteOptionalClaims(json, d.Scope, null, d.AuthTime, d.Acr, d.Amr, null);
            if (d.SessionId is not null)
            {
                json.WriteString(JwtClaimNames.SessionId, d.SessionId);
            }

            if (d.ConfirmationKeyThumbprint is { } jkt)
            {
                json.WriteStartObject(JwtClaimNames.Confirmation);
                json.WriteString(JwtClaimNames.JwkThumbprint, jkt);
                json.WriteEndObject();
            }
        });
        return new MintedToken(token, jti, issuedAt, expiresAt);
    }
}
