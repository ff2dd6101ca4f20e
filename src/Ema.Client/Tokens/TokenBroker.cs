using System.Collections.Concurrent;
using Ema.Client.Discovery;
using Ema.Client.Session;
using Ema.Client.SignIn;
using Ema.Protocol;
using Microsoft.Extensions.Logging;

namespace Ema.Client.Tokens;

/// <summary>An access token for one MCP server.</summary>
internal sealed record AccessGrant(string AccessToken, DateTimeOffset ExpiresAt, string? Scope)
{
    /// <summary>RFC 9449: bound to this client's DPoP key — sent with the DPoP scheme and a proof on every request.</summary>
    public bool DpopBound { get; init; }

    /// <summary>When it was obtained: the renewal margin is at most half its lifetime, so a short-lived token is not
    /// renewed on every call.</summary>
    public DateTimeOffset ObtainedAt { get; init; }

    /// <summary>A server's <c>expires_in</c>, bounded: absent or non-positive → 5 minutes, at most a day.</summary>
    public static TimeSpan Lifetime(long? expiresIn) =>
        expiresIn is { } seconds and > 0 ? TimeSpan.FromSeconds(Math.Min(seconds, 86_400)) : TimeSpan.FromMinutes(5);
}

/// <summary>
/// Obtains access tokens for MCP servers: token exchange at the IdP (ID token → ID-JAG, spec §2(a)12–28), then the
/// jwt-bearer grant at the server's authorization server (spec §2(a)29–33). Tokens are cached per (subject, IdP client,
/// authorization server, resource, scopes) with single-flight — concurrent callers for one key share one exchange —
/// and renewed in the background before they expire. A fresh ID-JAG is obtained for every access token (decision 2).
/// </summary>
internal sealed partial class TokenBroker(HttpClient http, EmaClientOptions options, SessionManager sessions, TimeProvider time, ILogger logger)
{
    private readonly TokenEndpointClient _endpoints = new(http, time);
    private readonly DpopKey? _dpop = options.UseDpop ? new DpopKey(time) : null;
    private readonly ConcurrentDictionary<TokenKey, Slot> _slots = new();
    private long _exchanges;

    private readonly record struct TokenKey(string Subject, string IdpClient, string AuthorizationServer, string Resource, string Scopes);

    private sealed class Slot
    {
        public readonly Lock Gate = new();
        public AccessGrant? Current;
        public Task<AccessGrant>? Inflight;
    }

    /// <summary>Token exchanges performed (each is one ID-JAG request and one jwt-bearer redemption).</summary>
    public long Exchanges => Interlocked.Read(ref _exchanges);

    /// <summary>An access token valid for at least the renewal margin, or the cached one while its renewal runs.</summary>
    /// <param name="binding">The server's resource and authorization server.</param>
    /// <param name="scopes">The scopes to ask for (part of the cache key).</param>
    /// <param name="rejectedToken">A token the server just refused (401): never handed out again.</param>
    /// <param name="cancellationToken">Stops this caller's wait; a shared exchange carries on for the others.</param>
    public async Task<AccessGrant> GetAsync(ResourceBinding binding, IReadOnlyCollection<string> scopes, string? rejectedToken, CancellationToken cancellationToken)
    {
        // The interactive fallback has its own sign-in at the server's AS, so it needs no enterprise session.
        var session = sessions.Current ?? (binding.Interactive ? null : throw new EmaSignInRequiredException());
        var scope = string.Join(' ', scopes.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
        var key = new TokenKey(session?.Subject ?? string.Empty, session?.ClientId ?? string.Empty, binding.AuthorizationServer.Issuer, binding.Resource, scope);
        var slot = _slots.GetOrAdd(key, _ => new Slot());
        var now = time.GetUtcNow();
        TaskCompletionSource<AccessGrant>? owner = null;
        Task<AccessGrant> pending;
        AccessGrant? usable = null;
        lock (slot.Gate)
        {
            if (rejectedToken is not null && slot.Current?.AccessToken == rejectedToken)
            {
                slot.Current = null;
            }

            if (slot.Current is { } current && now < current.ExpiresAt)
            {
                var margin = TimeSpan.FromTicks(Math.Min(options.RenewBeforeExpiry.Ticks, (current.ExpiresAt - current.ObtainedAt).Ticks / 2));
                if (now < current.ExpiresAt - margin)
                {
                    return current;
                }

                usable = current; // within the renewal margin: renew in the background, hand out the valid one meanwhile
            }

            if (slot.Inflight is null)
            {
                owner = new TaskCompletionSource<AccessGrant>(TaskCreationOptions.RunContinuationsAsynchronously);
                slot.Inflight = owner.Task;
            }

            pending = slot.Inflight;
        }

        if (owner is not null)
        {
            _ = RenewAsync(slot, owner, binding, scope);
        }

        if (usable is not null)
        {
            return usable;
        }

        return await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RenewAsync(Slot slot, TaskCompletionSource<AccessGrant> owner, ResourceBinding binding, string scope)
    {
        try
        {
            // Not the first caller's token: the result is shared by every caller waiting on this key.
            var grant = await ObtainAsync(binding, scope, CancellationToken.None).ConfigureAwait(false);
            lock (slot.Gate)
            {
                slot.Current = grant;
                slot.Inflight = null;
            }

            owner.SetResult(grant);
        }
        catch (Exception ex)
        {
            lock (slot.Gate)
            {
                slot.Inflight = null;
            }

            owner.SetException(ex);
        }
    }

    private async Task<AccessGrant> ObtainAsync(ResourceBinding binding, string scope, CancellationToken cancellationToken)
    {
        if (binding.Interactive)
        {
            return await Interactive.AuthorizeAsync(binding, scope, cancellationToken).ConfigureAwait(false);
        }

        var issuer = binding.AuthorizationServer.Issuer;
        if (!options.AuthorizationServerClients.TryGetValue(issuer, out var asClient))
        {
            throw new EmaProtocolException($"This client has no registration at {issuer} (the authorization server of {binding.Resource}); ask your administrator to add it.");
        }

        var idJag = await RequestIdJagAsync(binding, scope, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _exchanges);

        // Exchange 2 (RFC 7523 §2.1): resource is sent (MCP authorization "Resource Parameter"; decision 7). scope is not:
        // the ID-JAG already carries what the organization granted, which may be less than was asked (decision 9).
        var parameters = new List<KeyValuePair<string, string>>
        {
            new(OAuthParameters.GrantType, GrantTypes.JwtBearer),
            new(OAuthParameters.Assertion, idJag),
            new(OAuthParameters.Resource, binding.Resource),
        };

        // Spec §2(a)32: an ID-JAG bound to this client's key is redeemed with a proof by that key.
        var asEndpoint = binding.AuthorizationServer.TokenEndpoint!;
        var redeemed = await _endpoints.PostAsync(asEndpoint, parameters, asClient, EmaJsonContext.Default.AccessTokenResponse, _dpop?.Proof(HttpMethod.Post.Method, asEndpoint), cancellationToken).ConfigureAwait(false);
        if (redeemed.Value is not { } token)
        {
            LogRefused(logger, "authorization server", issuer, binding.Resource, redeemed.Error!.Error);
            throw new EmaAccessDeniedException(new EmaRefusal(RefusalSource.AuthorizationServer, redeemed.Error.Error, redeemed.Error.ErrorDescription, redeemed.Error.EmaDecisionId));
        }

        // RFC 9449 §5: a Bearer token, or — only when this client sent a proof — a token bound to its key.
        var dpopBound = _dpop is not null && string.Equals(token.TokenType, TokenTypes.Dpop, StringComparison.OrdinalIgnoreCase);
        if ((!dpopBound && !string.Equals(token.TokenType, TokenTypes.Bearer, StringComparison.OrdinalIgnoreCase)) || string.IsNullOrEmpty(token.AccessToken))
        {
            throw new EmaProtocolException($"{issuer} answered token_type '{token.TokenType}'; this client sends Bearer tokens{(_dpop is null ? string.Empty : " and DPoP-bound ones")} only.");
        }

        var now = time.GetUtcNow();
        return new AccessGrant(token.AccessToken, now + AccessGrant.Lifetime(token.ExpiresIn), token.Scope) { ObtainedAt = now, DpopBound = dpopBound };
    }

    private async Task<string> RequestIdJagAsync(ResourceBinding binding, string scope, CancellationToken cancellationToken)
    {
        var renewedAfterRejection = false;
        var session = await sessions.GetValidAsync(forceRenewal: false, cancellationToken).ConfigureAwait(false);
        for (var stepUps = 0; ; )
        {
            var idp = options.IdentityProvider;
            var parameters = new List<KeyValuePair<string, string>>
            {
                new(OAuthParameters.GrantType, GrantTypes.TokenExchange),
                new(OAuthParameters.RequestedTokenType, TokenTypes.IdJag),
                new(OAuthParameters.Audience, binding.AuthorizationServer.Issuer), // the AS issuer byte for byte (spec §2(a)15)
                new(OAuthParameters.Resource, binding.Resource),
                new(OAuthParameters.SubjectToken, session.IdToken),
                new(OAuthParameters.SubjectTokenType, TokenTypes.IdToken),
            };
            if (scope.Length > 0)
            {
                parameters.Add(new(OAuthParameters.Scope, scope));
            }

            var endpoint = await IdpTokenEndpointAsync(cancellationToken).ConfigureAwait(false);
            var result = await _endpoints.PostAsync(endpoint, parameters, options.IdentityProviderClient!, EmaJsonContext.Default.TokenExchangeResponse, _dpop?.Proof(HttpMethod.Post.Method, endpoint), cancellationToken).ConfigureAwait(false);
            if (result.Value is { } issued)
            {
                // ID-JAG draft §4.3.4; decision 12: token_type N_A in any case, or absent.
                if (issued.IssuedTokenType != TokenTypes.IdJag || string.IsNullOrEmpty(issued.AccessToken)
                    || (issued.TokenType is not null && !string.Equals(issued.TokenType, TokenTypes.NotApplicable, StringComparison.OrdinalIgnoreCase)))
                {
                    throw new EmaProtocolException($"{idp} answered the token exchange with '{issued.IssuedTokenType}', not an ID-JAG.");
                }

                CheckKeyBinding(idp, issued.AccessToken);
                return issued.AccessToken;
            }

            var error = result.Error!;
            if (error.Error == ErrorCodes.InsufficientUserAuthentication && stepUps < options.MaxStepUpAttempts)
            {
                // ID-JAG draft §8.2: authenticate again as asked, then retry with the fresh ID token.
                stepUps++;
                try
                {
                    session = await sessions.StepUpAsync(session, new StepUpRequest(error.MaxAge, error.AcrValues), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The stronger sign-in did not happen (no browser, no second factor, abandoned): the IdP's answer
                    // stands, reported as the refusal it is rather than as a sign-in problem.
                    throw new EmaAccessDeniedException(new EmaRefusal(RefusalSource.IdentityProvider, error.Error, $"{error.ErrorDescription ?? "a stronger sign-in is required"} (the step-up sign-in did not complete: {ex.Message})", error.EmaDecisionId));
                }

                continue;
            }

            if (error.Error == ErrorCodes.InvalidRequest && !renewedAfterRejection && session.RefreshToken is not null)
            {
                // The ID token itself may have been refused (expired, revoked session): renew it once, then retry.
                renewedAfterRejection = true;
                session = await sessions.GetValidAsync(forceRenewal: true, cancellationToken).ConfigureAwait(false);
                continue;
            }

            // Decision 11: every other refusal is final for this server; reported, never looped on.
            LogRefused(logger, "identity provider", idp, binding.Resource, error.Error);
            throw new EmaAccessDeniedException(new EmaRefusal(RefusalSource.IdentityProvider, error.Error, error.ErrorDescription, error.EmaDecisionId));
        }
    }

    // ID-JAG §8.6.1.1 step 3 (SHOULD): with DPoP, an ID-JAG not bound to this client's key is a silent downgrade — an
    // unbound assertion anyone holding it could redeem — and is not used. Without DPoP, an ID-JAG bound to some key
    // could not be redeemed by this client at all (spec §2(a)32), so it is reported here, clearly, instead of at the AS.
    private void CheckKeyBinding(string idp, string idJag)
    {
        var bound = DpopKey.ConfirmationThumbprint(idJag, out var hasConfirmation);
        if (_dpop is not null && !string.Equals(bound, _dpop.Thumbprint, StringComparison.Ordinal))
        {
            throw new EmaProtocolException($"{idp} answered a DPoP token exchange with an ID-JAG that is not bound to this client's key (cnf.jkt {(bound is null ? "missing" : "of another key")}): not used.");
        }

        if (_dpop is null && hasConfirmation)
        {
            throw new EmaProtocolException($"{idp} bound the ID-JAG to a proof-of-possession key (cnf) although this client sent no DPoP proof: it cannot be redeemed.");
        }
    }

    /// <summary>A DPoP proof for a request to a resource with a DPoP-bound access token (RFC 9449 §7: with <c>ath</c>).</summary>
    public string ResourceProof(string method, Uri url, string accessToken) =>
        (_dpop ?? throw new InvalidOperationException("This client has no DPoP key.")).Proof(method, url.AbsoluteUri, accessToken);

    private string? _idpTokenEndpoint;

    private async Task<string> IdpTokenEndpointAsync(CancellationToken cancellationToken) =>
        _idpTokenEndpoint ??= options.IdentityProviderTokenEndpoint ?? (await Discovery.DiscoverServerAsync(options.IdentityProvider, cancellationToken).ConfigureAwait(false)).TokenEndpoint
            ?? throw new EmaProtocolException($"{options.IdentityProvider} advertises no token endpoint.");

    /// <summary>Set by <see cref="EmaClient"/> (metadata is shared with the rest of the client).</summary>
    public MetadataDiscovery Discovery { get; init; } = null!;

    /// <summary>Set by <see cref="EmaClient"/>: the opt-in fallback for servers without EMA (decision 11).</summary>
    public InteractiveAuthorizer Interactive { get; init; } = null!;

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "The {Party} {Issuer} refused access to {Resource}: {Error}")]
    private static partial void LogRefused(ILogger logger, string party, string issuer, string resource, string error);
}
