using System.Runtime.CompilerServices;
using System.Text;
using Ema.Protocol;
using Ema.Server.Model;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;

namespace Ema.Server.Clients;

/// <summary>
/// Checks a <c>private_key_jwt</c> client assertion (RFC 7523 §2.2, §3; RFC 7521 §4.2) against the keys the client
/// registered: signed with an accepted asymmetric algorithm by one of them; <c>iss</c> and <c>sub</c> the client id;
/// <c>aud</c> naming this server (its issuer or its token endpoint); an <c>exp</c> that has not passed and is at most
/// ten minutes ahead; a <c>jti</c> used once. Keys come only from the registration, never from the assertion's header.
/// </summary>
public sealed class ClientAssertionVerifier
{
    /// <summary>The longest an assertion may be valid ahead: bounds how long its jti is remembered.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(10);

    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);
    private readonly IReplayCache _replay;
    private readonly TimeProvider _time;
    private readonly IReadOnlyCollection<string> _audiences;

    // Keys parsed once per registration read (the caching stores hand out the same instance until it changes).
    private readonly ConditionalWeakTable<ClientApplication, IReadOnlyList<VerificationKey>> _keys = new();

    /// <param name="replay">Remembers assertion ids until they expire.</param>
    /// <param name="time">The clock.</param>
    /// <param name="audiences">What <c>aud</c> may name: this server's issuer and token endpoint.</param>
    public ClientAssertionVerifier(IReplayCache replay, TimeProvider time, IReadOnlyCollection<string> audiences)
    {
        _replay = replay;
        _time = time;
        _audiences = audiences;
    }

    /// <summary>The client id an assertion claims (its <c>iss</c>), read without trusting it, to find the registration.</summary>
    public static string? ClaimedClientId(string assertion) => JwsReader.Read(assertion).Token?.Payload.Issuer;

    /// <summary>Null when the assertion <paramref name="read"/> proves <paramref name="client"/>; otherwise the refusal.</summary>
    /// <remarks>The assertion comes read (<see cref="JwsReader.Read"/>): the authenticator reads it once, for its <c>iss</c> and for this.</remarks>
    public async ValueTask<OAuthError?> VerifyAsync(JwsReadResult read, ClientApplication client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (read.Token is not { } token)
        {
            return Invalid(client, $"malformed: {read.Debug}");
        }

        if (!JwsAlgorithm.TryGet(token.Algorithm, out var algorithm) || !SecurityAlgorithms.DefaultAccepted.Contains(algorithm.Name, StringComparer.Ordinal))
        {
            return Invalid(client, $"alg={DebugText.Untrusted(token.Algorithm)}");
        }

        // With several keys registered the assertion names its key (kid): one verification per request, not one per key.
        var keys = _keys.GetValue(client, static c => c.Jwks is { } jwks ? JwksParser.Parse(Encoding.UTF8.GetBytes(jwks)).Keys : []);
        if (keys.Count > 1 && token.KeyId is null)
        {
            return Invalid(client, "no kid, and the client has several keys");
        }

        var verified = keys.Any(k => (token.KeyId is null || k.KeyId == token.KeyId) && k.IsCompatibleWith(algorithm) && k.Verify(algorithm, token.SigningInput.Span, token.Signature));
        if (!verified)
        {
            return Invalid(client, "signature does not verify with a registered key");
        }

        // RFC 7523 §3: iss and sub are the client id; aud identifies this server; exp is required.
        var claims = token.Payload;
        var now = _time.GetUtcNow();
        if (claims.Issuer != client.ClientId || claims.Subject != client.ClientId)
        {
            return Invalid(client, "iss and sub must both be the client id");
        }

        // One audience, this server (draft-ietf-oauth-rfc7523bis: an assertion naming several audiences could be
        // replayed by any of them here).
        if (claims.Audiences is not [var audience] || !_audiences.Contains(audience, StringComparer.Ordinal))
        {
            return Invalid(client, "aud is not exactly this server");
        }

        // Compared in whole seconds (no DateTimeOffset arithmetic that could overflow near year 9999).
        var nowSeconds = now.ToUnixTimeSeconds();
        var skew = (long)ClockSkew.TotalSeconds;
        if (claims.ExpiresAt is not { } exp || exp + skew <= nowSeconds || exp > nowSeconds + (long)MaxLifetime.TotalSeconds + skew)
        {
            return Invalid(client, "exp missing, passed, or more than ten minutes ahead");
        }

        if ((claims.NotBefore is { } nbf && nbf > nowSeconds + skew) || (claims.IssuedAt is { } iat && iat > nowSeconds + skew))
        {
            return Invalid(client, "nbf or iat in the future");
        }

        if (string.IsNullOrEmpty(claims.JwtId) || claims.JwtId.Length > 256)
        {
            return Invalid(client, "jti missing");
        }

        // RFC 7523 §3 item 7: the server may refuse a jti it has seen — Ema always does, for the assertion's lifetime.
        var recorded = await _replay.TryAddAsync("client_assertion " + client.ClientId, claims.JwtId, DateTimeOffset.FromUnixTimeSeconds(exp + skew), cancellationToken).ConfigureAwait(false);
        return recorded switch
        {
            ReplayCheckResult.Accepted => null,
            ReplayCheckResult.Replayed => OAuthError.From(ErrorIds.ClientAssertionReplayed, $"client_id={client.ClientId} jti={DebugText.Untrusted(claims.JwtId)}"),
            _ => OAuthError.ServerError("client assertion replay cache unavailable"),
        };
    }

    private static OAuthError Invalid(ClientApplication client, string why) => OAuthError.From(ErrorIds.ClientAssertionInvalid, $"client_id={client.ClientId}: {why}");
}
