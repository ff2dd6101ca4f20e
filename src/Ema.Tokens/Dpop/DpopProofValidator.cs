using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ema.Protocol;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;

namespace Ema.Tokens.Dpop;

/// <summary>Settings of <see cref="DpopProofValidator"/>.</summary>
public sealed record DpopProofOptions
{
    /// <summary>Accepted proof algorithms (asymmetric only; RFC 9449 §4.3 step 5).</summary>
    public IReadOnlyList<string> AllowedAlgorithms { get; init; } = SecurityAlgorithms.DefaultAccepted;

    /// <summary>How old a proof's <c>iat</c> may be (RFC 9449 §4.3 step 11, §11.1: proofs are short-lived).</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How far ahead of this server's clock a proof's <c>iat</c> may be.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The longest proof read, in characters (a P-521 or 8192-bit RSA key fits well within it).</summary>
    public int MaxLength { get; init; } = 8 * 1024;
}

/// <summary>Outcome of a DPoP proof check: the key's RFC 7638 thumbprint, or the error to answer with.</summary>
public readonly record struct DpopProofResult(string? KeyThumbprint, OAuthError? Error)
{
    public bool IsValid => Error is null;
}

/// <summary>
/// Checks a DPoP proof (RFC 9449 §4.3) presented at a token endpoint: one header; a JWS with <c>typ</c>
/// <c>dpop+jwt</c>, an accepted asymmetric <c>alg</c> and a public <c>jwk</c> that verifies it; <c>htm</c> and
/// <c>htu</c> naming this request (query and fragment ignored); <c>iat</c> within the window; a <c>jti</c> not seen
/// before for that key within the window; and <c>ath</c> when presented with an access token. Only a fully valid proof
/// records its <c>jti</c>. Never throws for any input.
/// </summary>
public sealed class DpopProofValidator
{
    private readonly IReplayCache _replay;
    private readonly TimeProvider _time;
    private readonly DpopProofOptions _options;

    public DpopProofValidator(IReplayCache replay, TimeProvider time, DpopProofOptions? options = null)
    {
        _replay = replay;
        _time = time;
        _options = options ?? new DpopProofOptions();
    }

    /// <summary>The accepted algorithms, for <c>dpop_signing_alg_values_supported</c> (RFC 9449 §5.1).</summary>
    public IReadOnlyList<string> AllowedAlgorithms => _options.AllowedAlgorithms;

    /// <summary>Checks the <c>DPoP</c> header values of a request to <paramref name="method"/> <paramref name="url"/>.</summary>
    public ValueTask<DpopProofResult> ValidateAsync(IReadOnlyList<string> headerValues, string method, string url, string? accessToken, CancellationToken cancellationToken) =>
        ValidateAsync(headerValues, method, url, accessToken, null, cancellationToken);

    /// <summary>
    /// The same, for a proof that must be by one known key (a bound token's <c>cnf.jkt</c>): a proof by any other key is
    /// refused before its signature is verified or its <c>jti</c> recorded, so foreign keys cannot fill the replay memory.
    /// </summary>
    public async ValueTask<DpopProofResult> ValidateAsync(IReadOnlyList<string> headerValues, string method, string url, string? accessToken, string? requiredKeyThumbprint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(headerValues);

        // Step 1: exactly one DPoP header field (and one value in it).
        if (headerValues.Count != 1 || headerValues[0].Contains(',', StringComparison.Ordinal))
        {
            return Fail(ErrorIds.DpopProofMalformed, $"dpop headers={headerValues.Count}");
        }

        // Steps 2–4: a well-formed JWT of type dpop+jwt (media types compare case-insensitively, RFC 7515 §4.1.9).
        var read = JwsReader.Read(headerValues[0], _options.MaxLength);
        if (read.Token is not { } proof)
        {
            return Fail(ErrorIds.DpopProofMalformed, read.Debug);
        }

        if (!string.Equals(proof.Type, JwtTypes.DpopProof, StringComparison.OrdinalIgnoreCase))
        {
            return Fail(ErrorIds.DpopProofMalformed, $"typ={DebugText.Untrusted(proof.Type)}");
        }

        // Step 5: an asymmetric algorithm this server accepts (never none, never HS*).
        if (!JwsAlgorithm.TryGet(proof.Algorithm, out var algorithm) || !_options.AllowedAlgorithms.Contains(algorithm.Name, StringComparer.Ordinal))
        {
            return Fail(ErrorIds.DpopProofAlgorithmNotAllowed, $"alg={DebugText.Untrusted(proof.Algorithm)}");
        }

        // The cheap checks come first (claims, target, time), so that a proof that fails them costs no key import and no
        // signature verification — anyone who can reach a token endpoint can send proofs.
        var claims = proof.Payload;
        if (string.IsNullOrEmpty(claims.JwtId) || claims.JwtId.Length > 256 || claims.HttpMethod is null || claims.HttpUri is null || claims.IssuedAt is not { } issuedAt)
        {
            return Fail(ErrorIds.DpopProofMalformed, "jti, htm, htu or iat missing");
        }

        // Steps 8–9: this request's method and URI (RFC 9110 methods are case-sensitive; the URI without query and
        // fragment, compared after syntax-based normalization, RFC 3986 §6.2.2).
        if (!string.Equals(claims.HttpMethod, method, StringComparison.Ordinal) || !SameTarget(claims.HttpUri, url))
        {
            return Fail(ErrorIds.DpopProofTargetMismatch, $"htm={DebugText.Untrusted(claims.HttpMethod)} htu={DebugText.Untrusted(claims.HttpUri)}");
        }

        // Step 11: created within the window.
        var now = _time.GetUtcNow();
        var created = DateTimeOffset.FromUnixTimeSeconds(issuedAt);
        if (created > now + _options.ClockSkew || created < now - _options.MaxAge)
        {
            return Fail(ErrorIds.DpopProofStale, $"iat={issuedAt}");
        }

        // Step 12 (with an access token): ath is the hash of exactly that token.
        if (accessToken is not null && !string.Equals(claims.AccessTokenHash, AccessTokenHash(accessToken), StringComparison.Ordinal))
        {
            return Fail(ErrorIds.DpopProofTargetMismatch, "ath does not match the access token");
        }

        // Steps 6–7: the public key in the header, and the signature it makes.
        if (ReadPublicKey(proof.EmbeddedJwk, out var problem) is not { } key)
        {
            return Fail(ErrorIds.DpopProofKeyInvalid, problem);
        }

        if (!key.IsCompatibleWith(algorithm))
        {
            return Fail(ErrorIds.DpopProofAlgorithmNotAllowed, $"alg={algorithm.Name} does not fit the key");
        }

        var thumbprint = Thumbprint(key);
        if (requiredKeyThumbprint is not null && !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(thumbprint), Encoding.ASCII.GetBytes(requiredKeyThumbprint)))
        {
            return Fail(ErrorIds.DpopProofKeyInvalid, "not the key the token is bound to");
        }

        if (!key.Verify(algorithm, proof.SigningInput.Span, proof.Signature))
        {
            return Fail(ErrorIds.DpopProofSignatureInvalid);
        }

        // RFC 9449 §11.1: a proof is single-use within its window — recorded per key, only once everything else held.
        var recorded = await _replay.TryAddAsync("dpop " + thumbprint, claims.JwtId, created + _options.MaxAge + _options.ClockSkew, cancellationToken).ConfigureAwait(false);
        return recorded switch
        {
            ReplayCheckResult.Accepted => new DpopProofResult(thumbprint, null),
            ReplayCheckResult.Replayed => Fail(ErrorIds.DpopProofReplayed, $"jti={DebugText.Untrusted(claims.JwtId)}"),
            _ => new DpopProofResult(null, OAuthError.ServerError("dpop replay cache unavailable")),
        };
    }

    /// <summary>The <c>ath</c> of <paramref name="accessToken"/>: base64url SHA-256 of its ASCII bytes (RFC 9449 §4.2).</summary>
    public static string AccessTokenHash(string accessToken) => Base64UrlStrict.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));

    /// <summary>The RFC 7638 thumbprint of a key (the value of <c>cnf.jkt</c>).</summary>
    public static string Thumbprint(VerificationKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var jwk = key.Jwk;
        return key.Family == JwsKeyFamily.EllipticCurve ? JwkThumbprint.ForEc(jwk.Curve!, jwk.X!, jwk.Y!) : JwkThumbprint.ForRsa(jwk.N!, jwk.E!);
    }

    private static VerificationKey? ReadPublicKey(string? json, out string? problem)
    {
        problem = null;
        if (json is null)
        {
            problem = "no jwk header";
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(json);

            // Step 7: a key with a private member is refused.
            if (JsonWebKeyNames.PrivateMembers.FirstOrDefault(m => document.RootElement.TryGetProperty(m, out _)) is { } member)
            {
                problem = $"jwk holds the private member {member}";
                return null;
            }

            // One value per member: with duplicates, which one is "the key" would depend on the parser.
            var names = new HashSet<string>(StringComparer.Ordinal);
            if (document.RootElement.EnumerateObject().Any(p => !names.Add(p.Name)))
            {
                problem = "jwk repeats a member";
                return null;
            }

            var jwk = document.RootElement.Deserialize(EmaJsonContext.Default.JsonWebKeyDocument); // the same parse, no second read
            if (jwk is null || !VerificationKey.TryFromJwk(jwk with { KeyId = null }, out var key, out problem))
            {
                problem ??= "jwk is not a key";
                return null;
            }

            // RFC 7638 §3.1 hashes the members as presented: they must already be in the one encoding the key has (RFC 7518
            // §6.2.1, §6.3.1: no leading zero octets), so that the thumbprint is the same for everyone who computes it.
            var canonical = key.Jwk;
            if (canonical.X != jwk.X || canonical.Y != jwk.Y || canonical.Curve != jwk.Curve || canonical.N != jwk.N || canonical.E != jwk.E)
            {
                problem = "jwk members are not in their canonical encoding";
                return null;
            }

            // Proof keys cost a verification per request: RSA beyond 4096 bits buys nothing but CPU for the sender.
            if (key.RsaBits > 4096)
            {
                problem = "RSA keys for DPoP are limited to 4096 bits";
                return null;
            }

            return key;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NotSupportedException)
        {
            problem = "jwk is not a JWK";
            return null;
        }
    }

    private static bool SameTarget(string claimed, string expected)
    {
        if (!Uri.TryCreate(claimed, UriKind.Absolute, out var proofUri) || !Uri.TryCreate(expected, UriKind.Absolute, out var requestUri))
        {
            return false;
        }

        // Scheme, host (case-insensitive), port (default ports made explicit) and path, percent-encoding normalized.
        const UriComponents Target = UriComponents.Scheme | UriComponents.Host | UriComponents.StrongPort | UriComponents.Path;
        return Uri.Compare(proofUri, requestUri, Target, UriFormat.SafeUnescaped, StringComparison.OrdinalIgnoreCase) == 0
            && string.Equals(proofUri.GetComponents(UriComponents.Path, UriFormat.SafeUnescaped), requestUri.GetComponents(UriComponents.Path, UriFormat.SafeUnescaped), StringComparison.Ordinal);
    }

    private static DpopProofResult Fail(ErrorDescriptor error, string? debug = null) => new(null, OAuthError.From(error, debug));


}
