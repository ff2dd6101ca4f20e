using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Clients;
using Ema.Server.Security;
using Ema.Tokens.Dpop;
using Microsoft.Extensions.Logging;

namespace Ema.Server.Grants;

/// <summary>The outcome of a token request, ready to render.</summary>
public sealed record TokenEndpointResult
{
    /// <summary>Response body on success.</summary>
    public object? Body { get; init; }

    /// <summary>The error on failure.</summary>
    public OAuthError? Error { get; init; }

    /// <summary>Whether a <c>WWW-Authenticate: Basic</c> challenge goes with a 401 (RFC 6749 §5.2).</summary>
    public bool BasicChallenge { get; init; }

    /// <summary>The audit record id of this decision.</summary>
    public required string AuditId { get; init; }
}

/// <summary>
/// Runs one token request: common parameters, grant lookup, client authentication, the client's grant permission,
/// the grant handler, then exactly one durable audit record (style rule 9) — written before the answer, so a token is
/// only ever released once its decision is on disk. If the record cannot be written nothing is released.
/// </summary>
public sealed class TokenEndpointService
{
    private readonly GrantRegistry _grants;
    private readonly ClientAuthenticator _clients;
    private readonly IAuditSink _audit;
    private readonly TimeProvider _time;
    private readonly ILogger<TokenEndpointService> _logger;
    private readonly EmaMetrics? _metrics;
    private readonly string _role;
    private readonly DpopProofValidator? _dpop;
    private readonly string? _tokenEndpoint;

    /// <summary>
    /// A token endpoint over <paramref name="grants"/>. With <paramref name="dpop"/> and <paramref name="tokenEndpoint"/>
    /// (this endpoint's URL as published in the metadata: what a proof's <c>htu</c> must name) DPoP proofs are checked
    /// (RFC 9449 §5); without them a request with a DPoP header is refused.
    /// </summary>
    public TokenEndpointService(GrantRegistry grants, ClientAuthenticator clients, IAuditSink audit, TimeProvider time, ILogger<TokenEndpointService> logger, EmaMetrics? metrics = null, string role = EmaRoles.IdentityProvider, DpopProofValidator? dpop = null, string? tokenEndpoint = null)
    {
        _dpop = dpop;
        _tokenEndpoint = tokenEndpoint;
        _grants = grants;
        _clients = clients;
        _audit = audit;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _role = role;
    }

    /// <summary>Supported grant types.</summary>
    public IReadOnlyCollection<string> GrantTypes => _grants.GrantTypes;

    /// <summary>Handles a parsed form.</summary>
    public Task<TokenEndpointResult> HandleAsync(FormParameters form, string? authorizationHeader, string? remoteAddress, CancellationToken cancellationToken) =>
        HandleAsync(form, authorizationHeader, remoteAddress, [], cancellationToken);

    /// <summary>Handles a parsed form with the request's <c>DPoP</c> header values (none: no proof).</summary>
    public async Task<TokenEndpointResult> HandleAsync(FormParameters form, string? authorizationHeader, string? remoteAddress, IReadOnlyList<string> dpopProofs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dpopProofs);
        ArgumentNullException.ThrowIfNull(form);
        var parsed = TokenRequest.FromForm(form);
        if (parsed.Error is not null)
        {
            return await RejectAsync(parsed.Error, remoteAddress, form[OAuthParameters.ClientId], null, cancellationToken).ConfigureAwait(false);
        }

        var request = parsed.Request!;
        if (!_grants.TryGet(request.GrantType, out var handler))
        {
            return await RejectAsync(OAuthError.From(ErrorIds.UnsupportedGrantType, $"grant_type={request.GrantType}"), remoteAddress, request.ClientId, request.GrantType, cancellationToken).ConfigureAwait(false);
        }

        var authentication = await _clients.AuthenticateAsync(authorizationHeader, request, cancellationToken).ConfigureAwait(false);
        if (!authentication.IsSuccess)
        {
            var rejected = await RejectAsync(authentication.Error!, remoteAddress, ClientAuthenticator.ClaimedClientId(authorizationHeader, request), request.GrantType, cancellationToken, handler.AuditType).ConfigureAwait(false);
            return rejected with { BasicChallenge = authentication.BasicAttempted && authentication.Error!.StatusCode == 401 };
        }

        var client = authentication.Identity!;
        if (!client.Client.GrantTypes.Contains(request.GrantType, StringComparer.Ordinal))
        {
            return await RejectAsync(OAuthError.From(ErrorIds.GrantTypeNotAllowed, $"client_id={client.Client.ClientId}"), remoteAddress, client.Client.ClientId, request.GrantType, cancellationToken, handler.AuditType).ConfigureAwait(false);
        }

        // RFC 9449 §5: a proof, when present, is checked before the grant — after client authentication, so that an
        // unauthenticated caller cannot make this server verify signatures. A valid one binds what the grant issues
        // where the grant supports it (the ID-JAG's cnf.jkt; the AS checks it against the assertion's binding).
        string? proofKey = null;
        if (dpopProofs.Count > 0)
        {
            if (_dpop is null || _tokenEndpoint is null)
            {
                return await RejectAsync(OAuthError.From(ErrorIds.DpopProofMalformed, "DPoP is not enabled at this endpoint"), remoteAddress, client.Client.ClientId, request.GrantType, cancellationToken, handler.AuditType).ConfigureAwait(false);
            }

            var proof = await _dpop.ValidateAsync(dpopProofs, HttpMethod.Post.Method, _tokenEndpoint, null, cancellationToken).ConfigureAwait(false);
            if (!proof.IsValid)
            {
                return await RejectAsync(proof.Error!, remoteAddress, client.Client.ClientId, request.GrantType, cancellationToken, handler.AuditType).ConfigureAwait(false);
            }

            proofKey = proof.KeyThumbprint;
        }

        GrantResult result;
        try
        {
            result = await handler.HandleAsync(new TokenRequestContext { Request = request, Client = client, RemoteAddress = remoteAddress, DpopKeyThumbprint = proofKey }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.GrantHandlerFailed(_logger, ex, request.GrantType);
            result = GrantResult.Fail(OAuthError.ServerError(ex.GetType().Name));
        }

        var audit = result.Audit;
        var auditEvent = new AuditEvent
        {
            Id = audit.DecisionId ?? SecretHasher.NewOrderedId("evt_", _time.GetUtcNow()),
            Time = _time.GetUtcNow(),
            Type = handler.AuditType,
            Action = request.GrantType,
            Outcome = result.IsSuccess ? AuditOutcomes.Granted : AuditOutcomes.Denied,
            ErrorId = result.Error?.ErrorId,
            Reason = audit.Reason ?? result.Error?.Description, // granted decisions keep their explanation too
            ClientId = client.Client.ClientId,
            Subject = audit.Subject,
            Resource = audit.Resource,
            Audience = audit.Audience,
            Scope = audit.Scope,
            TokenId = audit.TokenId,
            ParentTokenId = audit.ParentTokenId,
            SessionId = audit.SessionId,
            RemoteAddress = remoteAddress,
        };

        if (!await TryWriteAuditAsync(auditEvent, cancellationToken).ConfigureAwait(false))
        {
            _metrics?.TokenRequest(_role, request.GrantType, granted: false, ErrorIds.AuditUnavailable.Id);
            return new TokenEndpointResult { Error = OAuthError.From(ErrorIds.AuditUnavailable), AuditId = auditEvent.Id };
        }

        _metrics?.TokenRequest(_role, request.GrantType, result.IsSuccess, result.Error?.ErrorId);
        if (result.Error is not null)
        {
            Log.TokenRequestDenied(_logger, request.GrantType, client.Client.ClientId, result.Error.ErrorId, auditEvent.Id, result.Error.Debug ?? result.Error.Description);
            return new TokenEndpointResult { Error = result.Error, AuditId = auditEvent.Id };
        }

        Log.TokenIssued(_logger, request.GrantType, client.Client.ClientId, audit.Subject, audit.TokenId, auditEvent.Id);
        return new TokenEndpointResult { Body = (object?)result.Tokens ?? result.Exchange, AuditId = auditEvent.Id };
    }

    /// <summary>Refuses a request that never reached a grant handler (bad form, content type, client), with its audit record.</summary>
    public async Task<TokenEndpointResult> RejectAsync(OAuthError error, string? remoteAddress, string? clientId, string? grantType, CancellationToken cancellationToken, string? auditType = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        var auditEvent = new AuditEvent
        {
            Id = SecretHasher.NewOrderedId("evt_", _time.GetUtcNow()),
            Time = _time.GetUtcNow(),
            Type = auditType ?? AuditEventTypes.TokenRequest,
            Action = AuditValues.Untrusted(grantType),
            Outcome = AuditOutcomes.Denied,
            ErrorId = error.ErrorId,
            Reason = error.Description,
            ClientId = AuditValues.Untrusted(clientId),
            RemoteAddress = remoteAddress,
        };
        Log.TokenRequestDenied(_logger, AuditValues.Untrusted(grantType), AuditValues.Untrusted(clientId), error.ErrorId, auditEvent.Id, error.Debug ?? error.Description);

        var stored = await TryWriteAuditAsync(auditEvent, cancellationToken).ConfigureAwait(false);

        // Only a grant type this endpoint knows becomes a metric tag: a caller's string must not grow the series.
        _metrics?.TokenRequest(_role, grantType is not null && _grants.TryGet(grantType, out _) ? grantType : null, granted: false, stored ? error.ErrorId : ErrorIds.AuditUnavailable.Id);
        return stored
            ? new TokenEndpointResult { Error = error, AuditId = auditEvent.Id }
            : new TokenEndpointResult { Error = OAuthError.From(ErrorIds.AuditUnavailable), AuditId = auditEvent.Id };
    }

    private async Task<bool> TryWriteAuditAsync(AuditEvent auditEvent, CancellationToken cancellationToken)
    {
        try
        {
            await _audit.WriteAsync(auditEvent, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AuditUnavailableException ex)
        {
            Log.AuditWriteFailed(_logger, ex, auditEvent.Id);
            return false;
        }
    }
}
