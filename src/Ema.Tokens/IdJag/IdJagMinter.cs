using System.Text.Json;
using Ema.Protocol;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;

namespace Ema.Tokens.IdJag;

/// <summary>The claims of an ID-JAG to issue (ID-JAG draft §3.1).</summary>
public sealed record IdJagDescriptor
{
    /// <summary>Longest lifetime the minter accepts: the authorization servers' limit (decision 5).</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromSeconds(600);

    /// <summary><c>iss</c>: this IdP.</summary>
    public required string Issuer { get; init; }

    /// <summary><c>sub</c>: the user as the resource's authorization server knows it through this IdP.</summary>
    public required string Subject { get; init; }

    /// <summary><c>aud</c>: the resource authorization server's registered issuer (decision 6).</summary>
    public required string Audience { get; init; }

    /// <summary><c>client_id</c>: the client's id at the resource authorization server (ID-JAG draft §5).</summary>
    public required string ClientId { get; init; }

    /// <summary><c>resource</c>: the MCP server's resource identifier(s).</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary><c>scope</c>: granted scopes (space separated).</summary>
    public string? Scope { get; init; }

    /// <summary>Lifetime (decision 5: 300 s).</summary>
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary><c>tenant</c> (multi-tenant issuers, ID-JAG draft §6.1).</summary>
    public string? Tenant { get; init; }

    /// <summary><c>auth_time</c>.</summary>
    public DateTimeOffset? AuthTime { get; init; }

    /// <summary><c>acr</c>.</summary>
    public string? Acr { get; init; }

    /// <summary><c>amr</c>.</summary>
    public IReadOnlyList<string>? Amr { get; init; }

    /// <summary><c>email</c> (only when policy needs it; EMA §7.4.3).</summary>
    public string? Email { get; init; }

    /// <summary>
    /// The RFC 7638 thumbprint of the key the client proved with DPoP at the token exchange: written as <c>cnf.jkt</c>
    /// (ID-JAG §8.6.1.1, RFC 7800 §3.1), binding the ID-JAG to that key.
    /// </summary>
    public string? ConfirmationKeyThumbprint { get; init; }
}

/// <summary>Issues ID-JAGs signed with the IdP's current key, header <c>typ: oauth-id-jag+jwt</c>.</summary>
public sealed class IdJagMinter
{
    private readonly SigningKeyRing _keys;
    private readonly TimeProvider _time;

    /// <summary>Creates the minter.</summary>
    public IdJagMinter(SigningKeyRing keys, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(time);
        _keys = keys;
        _time = time;
    }

    /// <summary>Signs an ID-JAG.</summary>
    public MintedToken Mint(IdJagDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (descriptor.Lifetime <= TimeSpan.Zero || descriptor.Lifetime > IdJagDescriptor.MaxLifetime)
        {
            throw new ArgumentOutOfRangeException(nameof(descriptor), "ID-JAG lifetime must be positive and at most 600 s (decision 5).");
        }

        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        var expiresAt = issuedAt + descriptor.Lifetime;
        var jti = JwtWriter.NewJwtId();
        var token = JwtWriter.Write(_keys.Current, JwtTypes.IdJag, (descriptor, jti, issuedAt, expiresAt), static (json, s) =>
        {
            var d = s.descriptor;
            JwtWriter.WriteRegisteredClaims(json, d.Issuer, d.Subject, d.Audience, s.jti, s.issuedAt, s.expiresAt);
            json.WriteString(JwtClaimNames.ClientId, d.ClientId);
            if (d.Resources.Count > 0)
            {
                JwtWriter.WriteStringOrArray(json, JwtClaimNames.Resource, d.Resources);
            }

            JwtWriter.WriteOptionalClaims(json, d.Scope, d.Tenant, d.AuthTime, d.Acr, d.Amr, d.Email);
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
