namespace Ema.Tokens;

/// <summary>A token Ema signed, with the values callers record (the token itself is never logged; the <c>jti</c> is).</summary>
public sealed record MintedToken(string Token, string JwtId, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt)
{
    /// <summary>Lifetime in whole seconds (the <c>expires_in</c> of a response).</summary>
    public long ExpiresIn => (long)(ExpiresAt - IssuedAt).TotalSeconds;

    /// <inheritdoc />
    public override string ToString() => $"token jti={JwtId} exp={ExpiresAt:O}";
}
