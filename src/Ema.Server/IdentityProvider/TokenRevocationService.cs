using System.Buffers.Text;
using System.Text.Json;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Clients;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Microsoft.Extensions.Logging;

namespace Ema.Server.IdentityProvider;

/// <summary>The outcome of a revocation request, ready to render: nothing (200) or an error.</summary>
public sealed record TokenRevocationResult(OAuthError? Error, bool BasicChallenge, string AuditId);

/// <summary>
/// Token revocation at the IdP (RFC 7009): a client ends a refresh token it holds — and with it the token's whole
/// family, every refresh token rotated from the same sign-in grant (§2.1: the server may revoke the grant the token
/// belongs to) — for example when the user signs out of the client. The client authenticates as at the token
/// endpoint; a token it does not hold is refused (§2.1), an unknown one is answered as revoked (§2.2: the client can do
/// nothing about it), and access and ID tokens, which are short-lived JWTs this IdP keeps no list of, are
/// <c>unsupported_token_type</c> (§2.2.1). Each request is one durable audit record, written before the answer; a
/// revocation that cannot be completed or recorded is 503 (§2.2.1: the client retries, assuming the token still valid).
/// </summary>
public sealed class TokenRevocationService(ClientAuthenticator clients, IGrantStore grants, IAuditSink audit, TimeProvider time, ILogger<TokenRevocationService> logger)
{
    /// <summary>The <c>action</c> of the audit record of a revocation request.</summary>
    public const string AuditAction = "revoke";

    public async Task<TokenRevocationResult> HandleAsync(FormParameters form, string? authorizationHeader, string? remoteAddress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(form);

        // §2.1: the client authenticates first, by its registered method (the token endpoint's rules, ADR 0003).
        var credentials = TokenRequest.WithClientCredentials(form, grantType: string.Empty);
        var authentication = await clients.AuthenticateAsync(authorizationHeader, credentials, cancellationToken).ConfigureAwait(false);
        if (!authentication.IsSuccess)
        {
            return await DecideAsync(authentication.Error, AuditValues.Untrusted(ClientAuthenticator.ClaimedClientId(authorizationHeader, credentials)), null, remoteAddress, "client authentication failed", cancellationToken, authentication.BasicAttempted && authentication.Error!.StatusCode == 401).ConfigureAwait(false);
        }

        var client = authentication.Identity!.Client.ClientId;
        if (form[OAuthParameters.Token] is not { Length: > 0 } token)
        {
            return await DecideAsync(TokenRequest.MissingParameter(OAuthParameters.Token), client, null, remoteAddress, "no token", cancellationToken).ConfigureAwait(false);
        }

        // The hint only orders the search (§2.1); refresh tokens are the one kind kept here, so it changes nothing.
        RefreshTokenGrant? grant;
        bool own;
        try
        {
            grant = await grants.FindRefreshTokenAsync(SecretHasher.Hash(token), cancellationToken).ConfigureAwait(false);
            own = grant is not null && string.Equals(grant.ClientId, client, StringComparison.Ordinal);
            if (own)
            {
                // Revoked before the record is written: if the record then fails, the answer is 503 and the client
                // retries, which records it (a revocation without its record is the safe side of that failure).
                await grants.RevokeRefreshTokenFamilyAsync(grant!.FamilyId, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.TokenRevocationFailed(logger, ex, client);
            return await DecideAsync(OAuthError.From(ErrorIds.RevocationUnavailable), client, null, remoteAddress, "the grant store failed", cancellationToken).ConfigureAwait(false);
        }

        if (grant is null)
        {
            return LooksLikeJws(token)
                ? await DecideAsync(OAuthError.From(ErrorIds.RevocationTokenTypeUnsupported), client, null, remoteAddress, "an access or ID token", cancellationToken).ConfigureAwait(false)
                : await DecideAsync(null, client, null, remoteAddress, "unknown token: nothing to revoke", cancellationToken).ConfigureAwait(false);
        }

        return own
            ? await DecideAsync(null, client, grant, remoteAddress, "refresh-token family revoked", cancellationToken).ConfigureAwait(false)
            : await DecideAsync(OAuthError.From(ErrorIds.RevocationTokenOfAnotherClient, $"client_id={client}"), client, grant, remoteAddress, "the refresh token belongs to another client", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Refuses a request whose form could not be read, with its audit record.</summary>
    public Task<TokenRevocationResult> RejectAsync(OAuthError error, string? remoteAddress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(error);
        return DecideAsync(error, null, null, remoteAddress, "malformed request", cancellationToken);
    }

    /// <summary>
    /// Whether <paramref name="token"/> is shaped as a JWS compact serialization (RFC 7515 §7.1) — one of this IdP's access
    /// or ID tokens, which are not revocable here — rather than an arbitrary string, which is just an unknown token.
    /// </summary>
    private static bool LooksLikeJws(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || parts[0].Length is 0 or > 2048)
        {
            return false;
        }

        try
        {
            using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
            return header.RootElement.ValueKind == JsonValueKind.Object && header.RootElement.TryGetProperty(JoseHeaderNames.Algorithm, out var alg) && alg.ValueKind == JsonValueKind.String;
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return false;
        }
    }

    private async Task<TokenRevocationResult> DecideAsync(OAuthError? error, string? clientId, RefreshTokenGrant? grant, string? remoteAddress, string reason, CancellationToken cancellationToken, bool basicChallenge = false)
    {
        var now = time.GetUtcNow();
        var auditEvent = new AuditEvent
        {
            Id = SecretHasher.NewOrderedId("evt_", now),
            Time = now,
            Type = AuditEventTypes.TokenRevocation,
            Action = AuditAction,
            Outcome = error is null ? AuditOutcomes.Succeeded : AuditOutcomes.Denied,
            ErrorId = error?.ErrorId,
            Reason = error?.Description ?? reason,
            ClientId = clientId,
            Subject = grant?.UserId,
            SessionId = grant?.SessionId,

            // The refresh-token family revoked (the id the IdP's log names on refresh-token reuse too).
            TokenId = grant?.FamilyId,
            RemoteAddress = remoteAddress,
        };
        try
        {
            await audit.WriteAsync(auditEvent, cancellationToken).ConfigureAwait(false);
        }
        catch (AuditUnavailableException ex)
        {
            Log.AuditWriteFailed(logger, ex, auditEvent.Id);
            return new TokenRevocationResult(OAuthError.From(ErrorIds.RevocationUnavailable), false, auditEvent.Id);
        }

        Log.TokenRevocation(logger, clientId, auditEvent.Outcome, error?.ErrorId, grant?.FamilyId, auditEvent.Id);
        return new TokenRevocationResult(error, basicChallenge, auditEvent.Id);
    }
}
