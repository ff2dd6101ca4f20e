using Ema.Protocol;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;

namespace Ema.Tokens.IdTokens;

/// <summary>The claims of an OpenID Connect ID token (OIDC Core §2).</summary>
public sealed record IdTokenDescriptor
{
    /// <summary><c>iss</c>: this IdP.</summary>
    public required string Issuer { get; init; }

    /// <summary><c>sub</c>.</summary>
    public required string Subject { get; init; }

    /// <summary><c>aud</c>: the client id of the relying party.</summary>
    public required string Audience { get; init; }

    /// <summary>Lifetime.</summary>
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromMinutes(60);

    /// <summary><c>nonce</c> from the authentication request (OIDC Core §3.1.2.1).</summary>
    public string? Nonce { get; init; }

    /// <summary><c>auth_time</c>: when the user authenticated.</summary>
    public DateTimeOffset? AuthTime { get; init; }

    /// <summary><c>acr</c>.</summary>
    public string? Acr { get; init; }

    /// <summary><c>amr</c>.</summary>
    public IReadOnlyList<string>? Amr { get; init; }

    /// <summary><c>sid</c>: the IdP session (OIDC Front-Channel Logout §3).</summary>
    public string? SessionId { get; init; }

    /// <summary><c>email</c>.</summary>
    public string? Email { get; init; }

    /// <summary><c>name</c>.</summary>
    public string? Name { get; init; }

    /// <summary><c>preferred_username</c>.</summary>
    public string? PreferredUsername { get; init; }
}

/// <summary>Issues OIDC ID tokens signed with the IdP's current key.</summary>
public sealed class IdTokenMinter
{
    private readonly SigningKeyRing _keys;
    private readonly TimeProvider _time;

    /// <summary>Creates the minter.</summary>
    public IdTokenMinter(SigningKeyRing keys, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(time);
        _keys = keys;
        _time = time;
    }

    /// <summary>Signs an ID token.</summary>
    public MintedToken Mint(IdTokenDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        var expiresAt = issuedAt + descriptor.Lifetime;
        var jti = JwtWriter.NewJwtId();
        var token = JwtWriter.Write(_keys.Current, JwtTypes.Jwt, (descriptor, jti, issuedAt, expiresAt), static (json, s) =>
        {
            var d = s.descriptor;
            JwtWriter.WriteRegisteredClaims(json, d.Issuer, d.Subject, d.Audience, s.jti, s.issuedAt, s.expiresAt);
            if (d.Nonce is not null)
            {
                json.WriteString(JwtClaimNames.Nonce, d.Nonce);
            }

            if (d.SessionId is not null)
            {
                json.WriteString(JwtClaimNames.SessionId, d.SessionId);
            }

            if (d.Name is not null)
            {
                json.WriteString(JwtClaimNames.Name, d.Name);
            }

            if (d.PreferredUsername is not null)
            {
                json.WriteString(JwtClaimNames.PreferredUsername, d.PreferredUsername);
            }

            JwtWriter.WriteOptionalClaims(json, null, null, d.AuthTime, d.Acr, d.Amr, d.Email);
        });
        return new MintedToken(token, jti, issuedAt, expiresAt);
    }
}
