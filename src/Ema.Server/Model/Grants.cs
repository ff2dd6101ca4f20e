namespace Ema.Server.Model;

/// <summary>An authenticated IdP session (the session cookie refers to it by a random handle).</summary>
public sealed record IdpSession
{
    /// <summary>Session id (<c>sid</c> claim).</summary>
    public required string Id { get; init; }

    /// <summary>SHA-256 hash of the cookie handle.</summary>
    public required string HandleHash { get; init; }

    /// <summary>The signed-in user.</summary>
    public required string UserId { get; init; }

    /// <summary>When the user authenticated (<c>auth_time</c>).</summary>
    public required DateTimeOffset AuthTime { get; init; }

    /// <summary>Authentication methods (<c>amr</c>).</summary>
    public IReadOnlyList<string> Amr { get; init; } = [];

    /// <summary>Authentication context class (<c>acr</c>).</summary>
    public string? Acr { get; init; }

    /// <summary>Expiry.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Revoked by sign-out or an admin.</summary>
    public bool Revoked { get; init; }
}

/// <summary>An authorization request waiting for the user to sign in (kept server-side; the browser carries only its id).</summary>
public sealed record PendingAuthorization
{
    public required string Id { get; init; }

    public required string ClientId { get; init; }

    public required string RedirectUri { get; init; }

    public required string Scope { get; init; }

    public string? State { get; init; }

    public string? Nonce { get; init; }

    public required string CodeChallenge { get; init; }

    public int? MaxAge { get; init; }

    /// <summary>Requested authentication context classes (OIDC Core §3.1.2.1): MFA is asked for when they name it.</summary>
    public string? AcrValues { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>An issued authorization code (stored by hash, single use; RFC 6749 §4.1.2).</summary>
public sealed record AuthorizationCodeGrant
{
    public required string CodeHash { get; init; }

    public required string ClientId { get; init; }

    public required string RedirectUri { get; init; }

    public required string UserId { get; init; }

    public required string SessionId { get; init; }

    public required string Scope { get; init; }

    public string? Nonce { get; init; }

    public required string CodeChallenge { get; init; }

    public required DateTimeOffset AuthTime { get; init; }

    public IReadOnlyList<string> Amr { get; init; } = [];

    public string? Acr { get; init; }

    /// <summary>When the code was issued (compared with a later disconnection of the client).</summary>
    public DateTimeOffset IssuedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>A refresh token (stored by hash; rotated on use; reuse of a rotated token revokes its family).</summary>
public sealed record RefreshTokenGrant
{
    public required string TokenHash { get; init; }

    public required string FamilyId { get; init; }

    public required string ClientId { get; init; }

    public required string UserId { get; init; }

    public required string SessionId { get; init; }

    public required string Scope { get; init; }

    public required DateTimeOffset AuthTime { get; init; }

    public IReadOnlyList<string> Amr { get; init; } = [];

    public string? Acr { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Set when the token was exchanged for a successor or revoked.</summary>
    public DateTimeOffset? ConsumedAt { get; init; }
}
