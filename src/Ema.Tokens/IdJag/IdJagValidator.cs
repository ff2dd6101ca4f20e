using System.Security.Cryptography;
using System.Text;
using Ema.Protocol;
using Ema.Tokens.Issuers;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ema.Tokens.IdJag;

/// <summary>Options of <see cref="IdJagValidator"/>.</summary>
public sealed record IdJagValidatorOptions
{
    /// <summary>Longest assertion accepted, in characters.</summary>
    public int MaxAssertionLength { get; init; } = JwsReader.DefaultMaxLength;
}

/// <summary>
/// Validates ID-JAGs at an MCP server's authorization server: every rule of RFC 7523 §3, ID-JAG draft §4.4.1 and the
/// hardened EMA profile (decisions 2–7). Never throws for bad input; every failure is one <see cref="OAuthError"/> with
/// a stable id.
/// </summary>
/// <remarks>
/// Order: structure, <c>typ</c>, <c>alg</c>, trusted <c>iss</c>, then the stateless claim rules, then the signature,
/// then the single-use <c>jti</c> insert. Claim rules run before the signature so a rejected assertion costs no
/// cryptography (none of them reveals anything the caller did not send); the <c>jti</c> is consumed last, only for
/// an assertion that passed everything else, so a forged or otherwise invalid assertion can never burn a legitimate
/// <c>jti</c>.
/// </remarks>
public sealed class IdJagValidator
{
    private readonly ITrustedIssuerRegistry _issuers;
    private readonly IReplayCache _replay;
    private readonly TimeProvider _time;
    private readonly IdJagValidatorOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the validator.</summary>
    public IdJagValidator(ITrustedIssuerRegistry issuers, IReplayCache replay, TimeProvider time, IdJagValidatorOptions? options = null, ILogger<IdJagValidator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(issuers);
        ArgumentNullException.ThrowIfNull(replay);
        ArgumentNullException.ThrowIfNull(time);
        _issuers = issuers;
        _replay = replay;
        _time = time;
        _options = options ?? new IdJagValidatorOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Validates <paramref name="request"/>'s assertion; consumes its <c>jti</c> when (and only when) it is valid.</summary>
    public async ValueTask<IdJagValidationResult> ValidateAsync(IdJagValidationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var read = JwsReader.Read(request.Assertion, _options.MaxAssertionLength);
        if (!read.IsSuccess)
        {
            return Reject(null, MapReadFailure(read));
        }

        var token = read.Token!;
        var claims = token.Payload;

        // ID-JAG draft §3.1, §4.4.1 and RFC 8725 §3.11: typ distinguishes an ID-JAG from every other JWT (decision 3).
        if (!IsIdJagType(token.Type))
        {
            return Reject(claims, OAuthError.From(ErrorIds.IdJagTypeInvalid, $"typ={token.Type ?? "(none)"}"));
        }

        // EMA §7.4.1, RFC 8725 §3.1: asymmetric allow-list only. none and HS* are not in the table at all.
        if (!JwsAlgorithm.TryGet(token.Algorithm, out var algorithm))
        {
            return Reject(claims, OAuthError.From(ErrorIds.IdJagAlgorithmNotAllowed, $"alg={token.Algorithm ?? "(none)"}"));
        }

        // RFC 7523 §3 item 1: iss MUST be present and name an issuer this server trusts (compared exactly, decision 6).
        if (string.IsNullOrEmpty(claims.Issuer))
        {
            return Reject(claims, OAuthError.From(ErrorIds.IdJagIssuerMissing));
        }

        var issuer = await _issuers.FindAsync(claims.Issuer, cancellationToken).ConfigureAwait(false);
        if (issuer is null)
        {
            return Reject(claims, OAuthError.From(ErrorIds.IdJagIssuerUntrusted, $"iss={claims.Issuer}"));
        }

        // Decision 4: only the algorithms configured for this issuer.
        if (!issuer.AllowedAlgorithms.Contains(algorithm.Name, StringComparer.Ordinal))
        {
            return Reject(claims, OAuthError.From(ErrorIds.IdJagAlgorithmNotAllowed, $"alg={algorithm.Name} not allowed for {issuer.Issuer}"));
        }

        var claimError = CheckClaims(claims, issuer, request, out var resource, out var scopes);
        if (claimError is not null)
        {
            return Reject(claims, claimError);
        }

        // RFC 7523 §3 item 9: the signature MUST verify with a key of this issuer, looked up by kid in its own key source.
        var lookup = await issuer.Keys.FindKeyAsync(token.KeyId, algorithm, cancellationToken).ConfigureAwait(false);
        switch (lookup.Status)
        {
            case KeyLookupStatus.NotFound:
                return Reject(claims, OAuthError.From(ErrorIds.IdJagKeyNotFound, lookup.Debug));
            case KeyLookupStatus.AlgorithmMismatch:
                return Reject(claims, OAuthError.From(ErrorIds.IdJagKeyAlgorithmMismatch, lookup.Debug));
            case KeyLookupStatus.Unavailable:
                return Reject(claims, OAuthError.From(ErrorIds.IdJagKeysUnavailable, lookup.Debug));
        }

        if (!lookup.Key!.Verify(algorithm, token.SigningInput.Span, token.Signature))
        {
            return Reject(claims, OAuthError.From(ErrorIds.IdJagSignatureInvalid, $"kid={lookup.Key.KeyId}"));
        }

        // EMA §7.4.2, decision 2: the jti is single-use, scoped by issuer, remembered until exp + skew.
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(claims.ExpiresAt!.Value);
        var replay = await _replay.TryAddAsync(issuer.Issuer, claims.JwtId!, expiresAt + issuer.ClockSkew, cancellationToken).ConfigureAwait(false);
        if (replay != ReplayCheckResult.Accepted)
        {
            return Reject(claims, replay == ReplayCheckResult.Replayed
                ? OAuthError.From(ErrorIds.IdJagReplayed)
                : OAuthError.From(ErrorIds.ServerError, "replay cache unavailable"));
        }

        Log.IdJagAccepted(_logger, claims.JwtId!, issuer.Issuer, claims.ClientId!);
        return new IdJagValidationResult(
            new ValidatedIdJag
            {
                Issuer = issuer,
                Subject = claims.Subject!,
                ClientId = claims.ClientId!,
                JwtId = claims.JwtId!,
                Resource = resource!,
                Resources = claims.Resources ?? [],
                Scopes = scopes,
                IssuedAt = DateTimeOffset.FromUnixTimeSeconds(claims.IssuedAt!.Value),
                ExpiresAt = expiresAt,
                AuthTime = claims.AuthTime is { } authTime ? DateTimeOffset.FromUnixTimeSeconds(authTime) : null,
                Acr = claims.Acr,
                Amr = claims.Amr,
                Tenant = claims.Tenant,
                Email = claims.Email,
                KeyId = lookup.Key.KeyId,
            },
            null)
        {
            JwtId = claims.JwtId,
            IssuerId = claims.Issuer,
            Subject = claims.Subject,
        };
    }

    private OAuthError? CheckClaims(JwtPayload claims, TrustedIssuer issuer, IdJagValidationRequest request, out string? resource, out IReadOnlyList<string> scopes)
    {
        resource = null;
        scopes = [];

        // ID-JAG draft §4.4.1: aud is this server's issuer, as a string or an array of exactly one element.
        if (claims.Audiences is null || claims.Audiences.Count == 0)
        {
            return OAuthError.From(ErrorIds.IdJagAudienceMissing);
        }

        if (claims.Audiences.Count > 1)
        {
            return OAuthError.From(ErrorIds.IdJagAudienceMultiple, $"aud has {claims.Audiences.Count} values");
        }

        if (!AudienceMatches(claims.Audiences[0], request.AuthorizationServerIssuer, issuer.TolerateAudienceTrailingSlash))
        {
            return OAuthError.From(ErrorIds.IdJagAudienceMismatch, $"aud={claims.Audiences[0]}");
        }

        // RFC 7523 §3 items 4–6, EMA §7.4.2, decision 5: exp and iat required; window, age and lifetime bounded.
        if (claims.ExpiresAt is not { } exp)
        {
            return OAuthError.From(ErrorIds.IdJagExpirationMissing);
        }

        if (claims.IssuedAt is not { } iat)
        {
            return OAuthError.From(ErrorIds.IdJagIssuedAtMissing);
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var skew = (long)issuer.ClockSkew.TotalSeconds;
        if (now >= exp + skew)
        {
            return OAuthError.From(ErrorIds.IdJagExpired, $"exp={exp} now={now}");
        }

        if (claims.NotBefore is { } nbf && now + skew < nbf)
        {
            return OAuthError.From(ErrorIds.IdJagNotYetValid, $"nbf={nbf} now={now}");
        }

        if (iat > now + skew)
        {
            return OAuthError.From(ErrorIds.IdJagIssuedInFuture, $"iat={iat} now={now}");
        }

        if (now - iat > (long)issuer.MaxAge.TotalSeconds + skew)
        {
            return OAuthError.From(ErrorIds.IdJagTooOld, $"iat={iat} now={now}");
        }

        if (exp - iat > (long)issuer.MaxLifetime.TotalSeconds)
        {
            return OAuthError.From(ErrorIds.IdJagLifetimeTooLong, $"lifetime={exp - iat}s");
        }

        // RFC 7523 §3 item 2 and the identity-chaining processing rules: the subject must be identifiable.
        if (string.IsNullOrEmpty(claims.Subject))
        {
            return OAuthError.From(ErrorIds.IdJagSubjectMissing);
        }

        // ID-JAG draft §3.1: jti REQUIRED (single use is checked after the signature).
        if (string.IsNullOrEmpty(claims.JwtId))
        {
            return OAuthError.From(ErrorIds.IdJagJtiMissing);
        }

        // ID-JAG draft §4.4.1: client_id MUST identify the client that authenticated this request.
        if (string.IsNullOrEmpty(claims.ClientId))
        {
            return OAuthError.From(ErrorIds.IdJagClientIdMissing);
        }

        if (!string.Equals(claims.ClientId, request.AuthenticatedClientId, StringComparison.Ordinal))
        {
            return OAuthError.From(ErrorIds.IdJagClientMismatch, $"client_id={claims.ClientId} authenticated={request.AuthenticatedClientId}");
        }

        if (issuer.AllowedClientIds is { } allowed && !allowed.Contains(claims.ClientId))
        {
            return OAuthError.From(ErrorIds.IdJagClientNotAllowed, $"client_id={claims.ClientId}");
        }

        // ID-JAG draft §6: the tenant must be the one configured for this issuer.
        if (issuer.Tenant is not null && !string.Equals(claims.Tenant, issuer.Tenant, StringComparison.Ordinal))
        {
            return OAuthError.From(ErrorIds.IdJagTenantMismatch, $"tenant={claims.Tenant ?? "(none)"}");
        }

        // ID-JAG §4.4.1 with RFC 9396 §5: an authorization details type the server does not know is refused, not
        // dropped. Ema's authorization server defines none (ADR 0004); an empty array grants nothing and passes.
        if (claims.AuthorizationDetailTypes is [var firstType, ..])
        {
            return OAuthError.From(ErrorIds.IdJagAuthorizationDetailsUnsupported, $"type={DebugText.Untrusted(firstType)}");
        }

        var resourceError = BindResource(claims.Resources, request, out resource);
        if (resourceError is not null)
        {
            return resourceError;
        }

        // ID-JAG draft §8.6.1.2.2: an assertion bound to a key (cnf) needs a DPoP proof by exactly that key — no proof,
        // or a proof by another key (or a cnf this server cannot match, without jkt), is invalid_grant.
        if (!claims.HasConfirmation && request.RequireConfirmation)
        {
            return OAuthError.From(ErrorIds.IdJagConfirmationRequired);
        }

        if (claims.HasConfirmation)
        {
            if (request.ProofKeyThumbprint is null)
            {
                return OAuthError.From(ErrorIds.IdJagConfirmationUnsupported);
            }

            if (claims.ConfirmationJkt is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(claims.ConfirmationJkt), Encoding.ASCII.GetBytes(request.ProofKeyThumbprint)))
            {
                return OAuthError.From(ErrorIds.IdJagConfirmationMismatch);
            }
        }

        // RFC 6749 §3.3 scope syntax.
        if (!ScopeList.TryParse(claims.Scope, out scopes))
        {
            return OAuthError.From(ErrorIds.IdJagScopeMalformed);
        }

        return null;
    }

    // Decision 7 and EMA §7.6.2: the access token is bound to exactly one resource this server protects.
    private static OAuthError? BindResource(IReadOnlyList<string>? claimed, IdJagValidationRequest request, out string? resource)
    {
        resource = null;
        var served = request.ServedResources;
        if (claimed is not null)
        {
            if (claimed.Count == 0)
            {
                return OAuthError.From(ErrorIds.IdJagResourceInvalid, "empty resource array");
            }

            foreach (var value in claimed)
            {
                // RFC 8707 §2: an absolute URI without a fragment. A value equal to a served resource is one already
                // (served resources are checked when configured), so only other values are parsed. The scheme must
                // be written out: on Unix, .NET reads "/mcp" as an absolute file: URI.
                if (!served.Contains(value)
                    && (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || !value.StartsWith(uri.Scheme + ":", StringComparison.OrdinalIgnoreCase)
                        || value.Contains('#', StringComparison.Ordinal)))
                {
                    return OAuthError.From(ErrorIds.IdJagResourceInvalid, "resource is not an absolute URI without fragment");
                }
            }
        }

        if (request.RequestedResources.Count > 1)
        {
            return OAuthError.From(ErrorIds.IdJagResourceParameterMismatch, "An access token is issued for one resource at a time.", "several resource parameters");
        }

        if (request.RequestedResources.Count == 1)
        {
            var requested = request.RequestedResources[0];
            var inGrant = claimed is null
                ? served.Count == 1 && served.Contains(requested)
                : claimed.Contains(requested, StringComparer.Ordinal);
            if (!inGrant)
            {
                return OAuthError.From(ErrorIds.IdJagResourceParameterMismatch, $"resource={requested}");
            }

            if (!served.Contains(requested))
            {
                return OAuthError.From(ErrorIds.IdJagResourceNotServed, $"resource={requested}");
            }

            resource = requested;
            return null;
        }

        if (claimed is null)
        {
            if (served.Count != 1)
            {
                return OAuthError.From(ErrorIds.IdJagResourceAmbiguous, $"served={served.Count}");
            }

            resource = served.First();
            return null;
        }

        foreach (var value in claimed)
        {
            if (!served.Contains(value))
            {
                continue;
            }

            if (resource is not null && !string.Equals(resource, value, StringComparison.Ordinal))
            {
                resource = null;
                return OAuthError.From(ErrorIds.IdJagResourceAmbiguous, "The assertion names several resources of this server; choose one with the resource parameter.", "several served resources");
            }

            resource = value;
        }

        return resource is null
            ? OAuthError.From(ErrorIds.IdJagResourceNotServed, $"resource={string.Join(' ', claimed)}")
            : null;
    }

    internal static bool IsIdJagType(string? type) =>
        string.Equals(type, JwtTypes.IdJag, StringComparison.OrdinalIgnoreCase)
        || string.Equals(type, JwtTypes.IdJagMediaType, StringComparison.OrdinalIgnoreCase);

    private static bool AudienceMatches(string audience, string issuer, bool tolerateTrailingSlash)
    {
        if (string.Equals(audience, issuer, StringComparison.Ordinal))
        {
            return true;
        }

        // Decision 6: an opt-in tolerance of exactly one trailing slash, never any other normalisation.
        return tolerateTrailingSlash
            && (string.Equals(audience, issuer + "/", StringComparison.Ordinal) || string.Equals(audience + "/", issuer, StringComparison.Ordinal));
    }

    private static OAuthError MapReadFailure(JwsReadResult read) => read.Failure switch
    {
        JwtReadFailure.TooLarge => OAuthError.From(ErrorIds.IdJagTooLarge, read.Debug),
        JwtReadFailure.Encrypted => OAuthError.From(ErrorIds.IdJagEncrypted, read.Debug),
        JwtReadFailure.HeaderMalformed => OAuthError.From(ErrorIds.IdJagHeaderMalformed, read.Debug),
        JwtReadFailure.CriticalHeader => OAuthError.From(ErrorIds.IdJagCriticalHeader, read.Debug),
        JwtReadFailure.PayloadMalformed => OAuthError.From(ErrorIds.IdJagPayloadMalformed, read.Debug),
        JwtReadFailure.ClaimType when read.FailedClaim == JwtClaimNames.Scope => OAuthError.From(ErrorIds.IdJagScopeMalformed, read.Debug),
        JwtReadFailure.ClaimType when read.FailedClaim == JwtClaimNames.Resource => OAuthError.From(ErrorIds.IdJagResourceInvalid, read.Debug),
        JwtReadFailure.ClaimType when read.FailedClaim == JwtClaimNames.AuthorizationDetails => OAuthError.From(ErrorIds.IdJagAuthorizationDetailsMalformed, read.Debug),
        JwtReadFailure.ClaimType => OAuthError.From(ErrorIds.IdJagPayloadMalformed, read.Debug),
        _ => OAuthError.From(ErrorIds.IdJagMalformed, read.Debug),
    };

    private IdJagValidationResult Reject(JwtPayload? claims, OAuthError error)
    {
        Log.IdJagRejected(_logger, claims?.JwtId, claims?.Issuer, error.ErrorId, error.Debug ?? error.Description);
        return new IdJagValidationResult(null, error)
        {
            JwtId = claims?.JwtId,
            IssuerId = claims?.Issuer,
            Subject = claims?.Subject,
        };
    }
}
