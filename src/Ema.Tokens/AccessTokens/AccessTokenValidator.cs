using Ema.Protocol;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ema.Tokens.AccessTokens;

/// <summary>How a resource server validates access tokens from its authorization server.</summary>
public sealed record AccessTokenValidationParameters
{
    /// <summary>The authorization server's issuer (from the protected-resource metadata); compared exactly.</summary>
    public required string Issuer { get; init; }

    /// <summary>This resource's identifier: the only acceptable <c>aud</c> (RFC 8707 §2, MCP "Token Handling").</summary>
    public required string Audience { get; init; }

    /// <summary>The authorization server's keys.</summary>
    public required IIssuerKeySource Keys { get; init; }

    /// <summary>Accepted algorithms.</summary>
    public IReadOnlyList<string> AllowedAlgorithms { get; init; } = SecurityAlgorithms.DefaultAccepted;

    /// <summary>Clock skew on <c>exp</c>/<c>nbf</c>/<c>iat</c>.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest token accepted, in characters.</summary>
    public int MaxTokenLength { get; init; } = JwsReader.DefaultMaxLength;
}

/// <summary>A valid access token's claims.</summary>
public sealed record ValidatedAccessToken
{
    public required string Issuer { get; init; }

    public required string Subject { get; init; }

    public required string Audience { get; init; }

    public required string ClientId { get; init; }

    public required string JwtId { get; init; }

    public required IReadOnlyList<string> Scopes { get; init; }

    public required DateTimeOffset IssuedAt { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public DateTimeOffset? AuthTime { get; init; }

    public string? Acr { get; init; }

    public IReadOnlyList<string>? Amr { get; init; }

    /// <summary><c>sid</c> when present (the IdP's own tokens).</summary>
    public string? SessionId { get; init; }

    /// <summary>
    /// RFC 9449 §6.1: the key the token is bound to (<c>cnf.jkt</c>), or — for a <c>cnf</c> this validator cannot match
    /// (no <c>jkt</c>) — an empty string, so the token is never taken as a Bearer token. Null: a Bearer token.
    /// </summary>
    public string? ConfirmationKeyThumbprint { get; init; }
}

/// <summary>Either a <see cref="ValidatedAccessToken"/> or an RFC 6750 <c>invalid_token</c> error.</summary>
public readonly record struct AccessTokenValidationResult(ValidatedAccessToken? Value, OAuthError? Error)
{
    /// <summary>True when valid.</summary>
    public bool IsValid => Value is not null;
}

/// <summary>
/// Validates RFC 9068 access tokens at a resource server (RFC 9068 §4; MCP authorization "Token Handling"):
/// <c>typ</c> at+jwt, algorithm allow-list, <c>iss</c> exact, <c>aud</c> exactly this resource, time window,
/// required claims, signature. Never throws for bad input.
/// </summary>
public sealed class AccessTokenValidator
{
    private readonly AccessTokenValidationParameters _parameters;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the validator.</summary>
    public AccessTokenValidator(AccessTokenValidationParameters parameters, TimeProvider time, ILogger<AccessTokenValidator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(time);
        _parameters = parameters;
        _time = time;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Validates <paramref name="token"/>.</summary>
    public async ValueTask<AccessTokenValidationResult> ValidateAsync(string? token, CancellationToken cancellationToken)
    {
        var read = JwsReader.Read(token, _parameters.MaxTokenLength);
        if (!read.IsSuccess)
        {
            return Reject(null, OAuthError.From(ErrorIds.AccessTokenMalformed, read.Debug));
        }

        var jws = read.Token!;
        var claims = jws.Payload;

        // RFC 9068 §4: typ MUST be at+jwt (or application/at+jwt); this also refuses ID tokens and ID-JAGs.
        if (!string.Equals(jws.Type, JwtTypes.AccessToken, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(jws.Type, JwtTypes.AccessTokenMediaType, StringComparison.OrdinalIgnoreCase))
        {
            return Reject(claims, OAuthError.From(ErrorIds.AccessTokenTypeInvalid, $"typ={jws.Type ?? "(none)"}"));
        }

        if (!JwsAlgorithm.TryGet(jws.Algorithm, out var algorithm) || !_parameters.AllowedAlgorithms.Contains(algorithm.Name, StringComparer.Ordinal))
        {
            return Reject(claims, OAuthError.From(ErrorIds.AccessTokenAlgorithmNotAllowed, $"alg={jws.Algorithm ?? "(none)"}"));
        }

        // RFC 9068 §4: iss MUST exactly match the authorization server's issuer.
        if (!string.Equals(claims.Issuer, _parameters.Issuer, StringComparison.Ordinal))
        {
            return Reject(claims, OAuthError.From(ErrorIds.AccessTokenIssuerInvalid, $"iss={claims.Issuer}"));
        }

        // RFC 9068 §4 and MCP "Token Handling": aud MUST name this resource; Ema tokens name exactly one (EMA §5.1).
        if (claims.Audiences is not { Count: 1 } || !string.Equals(claims.Audiences[0], _parameters.Audience, StringComparison.Ordinal))
        {
            return Reject(claims, OAuthError.From(ErrorIds.AccessTokenAudienceInvalid, $"aud={string.Join(' ', claims.Audiences ?? [])}"));
        }

        // RFC 9068 §2.2 REQUIRED claims.
        if (claims.ExpiresAt is not { } exp || claims.IssuedAt is not { } iat || string.IsNullOrEmpty(claims.Subject)
            || string.IsNullOrEmpty(claims.ClientId) || string.IsNullOrEmpty(claims.JwtId))
        {
            return Reject(claims, OAuthError.From(ErrorIds.AccessTokenClaimMissing));
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var skew = (long)_parameters.ClockSkew.TotalSeconds;
        if (now >= exp + skew)
        {
            return Reject(claims, OAuthError.From(ErrorIds.AccessTokenExpired, $"exp={exp} now={now}"));
        }

        if ((claims.NotBefore is { } nbf && now + skew < nbf) || iat > now + skew)
        {
            return Reject(claims, OAuthError.From(ErrorIds.AccessTokenNotYetValid, $"iat={iat} now={now}"));
        }

        var lookup = await _parameters.Keys.FindKeyAsync(jws.KeyId, algorithm, cancellationToken).ConfigureAwait(false);
        if (lookup.Status != KeyLookupStatus.Found)
        {
            return Reject(claims, OAuthError.From(lookup.Status == KeyLookupStatus.Unavailable ? ErrorIds.AccessTokenKeysUnavailable : ErrorIds.AccessTokenKeyNotFound, lookup.Debug));
        }

        if (!lookup.Key!.Verify(algorithm, jws.SigningInput.Span, jws.Signature))
        {
            return Reject(claims, OAuthError.From(ErrorIds.AccessTokenSignatureInvalid, $"kid={lookup.Key.KeyId}"));
        }

        // Parsed after the signature: only the authorization server can make us do this work.
        if (!ScopeList.TryParse(claims.Scope, out var scopes))
        {
            return Reject(claims, OAuthError.From(ErrorIds.AccessTokenMalformed, "scope syntax"));
        }

        return new AccessTokenValidationResult(
            new ValidatedAccessToken
            {
                Issuer = claims.Issuer!,
                Subject = claims.Subject!,
                Audience = claims.Audiences[0],
                ClientId = claims.ClientId!,
                JwtId = claims.JwtId!,
                Scopes = scopes,
                IssuedAt = DateTimeOffset.FromUnixTimeSeconds(iat),
                ExpiresAt = DateTimeOffset.FromUnixTimeSeconds(exp),
                AuthTime = claims.AuthTime is { } authTime ? DateTimeOffset.FromUnixTimeSeconds(authTime) : null,
                Acr = claims.Acr,
                Amr = claims.Amr,
                SessionId = claims.SessionId,
                ConfirmationKeyThumbprint = claims.HasConfirmation ? claims.ConfirmationJkt ?? string.Empty : null,
            },
            null);
    }

    private AccessTokenValidationResult Reject(JwtPayload? claims, OAuthError error)
    {
        Log.AccessTokenRejected(_logger, claims?.JwtId, error.ErrorId, error.Debug ?? error.Description);
        return new AccessTokenValidationResult(null, error);
    }
}
