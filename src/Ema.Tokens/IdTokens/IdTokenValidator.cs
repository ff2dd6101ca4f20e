using Ema.Protocol;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;

namespace Ema.Tokens.IdTokens;

/// <summary>Why an ID token was refused.</summary>
public enum IdTokenFailure
{
    /// <summary>Valid.</summary>
    None,

    /// <summary>Malformed, wrong type, wrong issuer, unknown key, bad signature or missing claims.</summary>
    Invalid,

    /// <summary>Expired (or not yet valid).</summary>
    Expired,
}

/// <summary>The claims of a valid ID token.</summary>
public sealed record ValidatedIdToken
{
    public required string Subject { get; init; }

    public required IReadOnlyList<string> Audiences { get; init; }

    public required string JwtId { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary><c>iat</c> (required by OIDC Core §2).</summary>
    public DateTimeOffset IssuedAt { get; init; }

    public DateTimeOffset? AuthTime { get; init; }

    public IReadOnlyList<string> Amr { get; init; } = [];

    public string? Acr { get; init; }

    public string? SessionId { get; init; }

    public string? AuthorizedParty { get; init; }
}

/// <summary>Result of <see cref="IdTokenValidator.ValidateAsync"/>.</summary>
public readonly record struct IdTokenValidationResult(ValidatedIdToken? Value, IdTokenFailure Failure, string? Debug);

/// <summary>
/// Validates ID tokens an IdP issued itself (OIDC Core §3.1.3.7 items 2, 3, 6, 9; ID-JAG draft §4.3.3: the subject
/// token must be validated). The caller checks the audience against the authenticated client.
/// </summary>
public sealed class IdTokenValidator
{
    private readonly string _issuer;
    private readonly IIssuerKeySource _keys;
    private readonly TimeProvider _time;
    private readonly TimeSpan _clockSkew;

    public IdTokenValidator(string issuer, IIssuerKeySource keys, TimeProvider time, TimeSpan? clockSkew = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(issuer);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(time);
        _issuer = issuer;
        _keys = keys;
        _time = time;
        _clockSkew = clockSkew ?? TimeSpan.FromSeconds(60);
    }

    /// <summary>Validates <paramref name="token"/>; never throws for bad input.</summary>
    public async ValueTask<IdTokenValidationResult> ValidateAsync(string? token, CancellationToken cancellationToken)
    {
        var read = JwsReader.Read(token);
        if (!read.IsSuccess)
        {
            return Fail(IdTokenFailure.Invalid, read.Debug);
        }

        var jws = read.Token!;
        var claims = jws.Payload;

        // An ID token is a plain JWT: refuse access tokens and ID-JAGs presented as ID tokens (RFC 8725 §3.11).
        if (jws.Type is not null && !string.Equals(jws.Type, JwtTypes.Jwt, StringComparison.OrdinalIgnoreCase))
        {
            return Fail(IdTokenFailure.Invalid, $"typ={jws.Type}");
        }

        if (!JwsAlgorithm.TryGet(jws.Algorithm, out var algorithm))
        {
            return Fail(IdTokenFailure.Invalid, $"alg={jws.Algorithm}");
        }

        if (!string.Equals(claims.Issuer, _issuer, StringComparison.Ordinal))
        {
            return Fail(IdTokenFailure.Invalid, $"iss={claims.Issuer}");
        }

        if (string.IsNullOrEmpty(claims.Subject) || claims.Audiences is not { Count: > 0 } || claims.ExpiresAt is not { } exp || claims.IssuedAt is null || string.IsNullOrEmpty(claims.JwtId))
        {
            return Fail(IdTokenFailure.Invalid, "required claim missing");
        }

        var lookup = await _keys.FindKeyAsync(jws.KeyId, algorithm, cancellationToken).ConfigureAwait(false);
        if (lookup.Status != KeyLookupStatus.Found || !lookup.Key!.Verify(algorithm, jws.SigningInput.Span, jws.Signature))
        {
            return Fail(IdTokenFailure.Invalid, lookup.Debug ?? "signature");
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var skew = (long)_clockSkew.TotalSeconds;
        if (now >= exp + skew || claims.IssuedAt > now + skew)
        {
            return Fail(IdTokenFailure.Expired, $"exp={exp} now={now}");
        }

        return new IdTokenValidationResult(
            new ValidatedIdToken
            {
                Subject = claims.Subject!,
                Audiences = claims.Audiences,
                JwtId = claims.JwtId!,
                ExpiresAt = DateTimeOffset.FromUnixTimeSeconds(exp),
                IssuedAt = DateTimeOffset.FromUnixTimeSeconds(claims.IssuedAt!.Value),
                AuthTime = claims.AuthTime is { } authTime ? DateTimeOffset.FromUnixTimeSeconds(authTime) : null,
                Amr = claims.Amr ?? [],
                Acr = claims.Acr,
                SessionId = claims.SessionId,
                AuthorizedParty = claims.AuthorizedParty,
            },
            IdTokenFailure.None,
            null);
    }

    private static IdTokenValidationResult Fail(IdTokenFailure failure, string? debug) => new(null, failure, debug);
}
