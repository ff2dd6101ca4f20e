using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.AuthorizationServer;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Security;
using Ema.Server.Stores;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.IdJag;
using Ema.Tokens.Replay;
using Microsoft.Extensions.Options;

namespace Ema.Server.Grants.JwtBearer;

/// <summary>
/// RFC 7523 §2.1 jwt-bearer grant redeeming ID-JAGs (ID-JAG draft §4.4; EMA-S §5; decisions 2, 7, 9, 14, 16, 17).
/// Reads top to bottom: confidential client → assertion → every ID-JAG rule (Ema.Tokens) → tenant account → scopes →
/// an RFC 9068 access token for exactly one resource, and never a refresh token.
/// </summary>
public sealed class JwtBearerGrantHandler : IGrantHandler
{
    private readonly IAuthorizationServerStore _store;
    private readonly StoreTrustedIssuerRegistry _issuers;
    private readonly IdJagValidator _validator;
    private readonly AuthorizationServerTokens _tokens;
    private readonly AuthorizationServerOptions _options;
    private readonly TimeProvider _time;

    public JwtBearerGrantHandler(IAuthorizationServerStore store, StoreTrustedIssuerRegistry issuers, IReplayCache replay, AuthorizationServerTokens tokens, IOptions<AuthorizationServerOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _issuers = issuers;
        _validator = new IdJagValidator(issuers, replay, time);
        _tokens = tokens;
        _options = options.Value;
        _time = time;
    }

    public string GrantType => GrantTypes.JwtBearer;

    public string AuditType => AuditEventTypes.JwtBearer;

    public IReadOnlyList<string> Parameters { get; } = [OAuthParameters.Assertion, OAuthParameters.Scope, OAuthParameters.Resource];

    public async Task<GrantResult> HandleAsync(TokenRequestContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);

        // Decision 14, ID-JAG §5, §8.1: only authenticated confidential clients; the IdP named this client, and
        // client authentication is what stops anyone else from redeeming its grant.
        if (!context.Client.Authenticated)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.ClientAuthenticationRequired, "public or secretless client"));
        }

        var parsed = JwtBearerRequest.FromForm(context.Request.Parameters);
        if (parsed.Error is not null)
        {
            return GrantResult.Fail(parsed.Error);
        }

        var request = parsed.Request!;
        var resources = await _store.ListResourcesAsync(cancellationToken).ConfigureAwait(false);
        var validation = await _validator.ValidateAsync(
            new IdJagValidationRequest
            {
                Assertion = request.Assertion,
                AuthenticatedClientId = context.Client.Client.ClientId,
                AuthorizationServerIssuer = _options.Issuer,
                ServedResources = [.. resources.Select(r => r.Resource)],
                RequestedResources = request.Resources,
                ProofKeyThumbprint = context.DpopKeyThumbprint,
                RequireConfirmation = context.Client.Client.RequireDpop,
            },
            cancellationToken).ConfigureAwait(false);
        var audit = new GrantAuditDetails { ParentTokenId = validation.JwtId, Audience = validation.IssuerId, Subject = validation.Subject };
        if (!validation.IsValid)
        {
            return GrantResult.Fail(validation.Error!, audit);
        }

        var idJag = validation.Value!;
        var resource = resources.Single(r => r.Resource == idJag.Resource);
        audit = audit with { Resource = resource.Resource };

        // Decision 17: the account is keyed by the trusted issuer's tenant, issuer and subject — never by email —
        // so an ID-JAG from tenant A's IdP can only ever reach tenant A's accounts.
        // Distrusted between the validation and here (the registry re-read it): refused like any untrusted issuer.
        if (_issuers.Registration(idJag.Issuer.Issuer) is not { } registration)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.IdJagIssuerUntrusted, $"iss={idJag.Issuer.Issuer} (distrusted during the request)"), audit);
        }

        var account = await _store.FindAccountAsync(registration.TenantId, idJag.Issuer.Issuer, idJag.Subject, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            if (!registration.JitProvisioning)
            {
                return GrantResult.Fail(OAuthError.From(ErrorIds.AccountNotProvisioned, $"sub={idJag.Subject}"), audit);
            }

            account = await _store.GetOrCreateAccountAsync(new Account(SecretHasher.NewOrderedId("acct_", _time.GetUtcNow()), registration.TenantId, idJag.Issuer.Issuer, idJag.Subject, idJag.Email, _time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        }

        audit = audit with { Subject = account.Id };

        // Decision 9: granted = (request scope, if any) ∩ ID-JAG scope ∩ scopes this resource defines; asking for a scope
        // the ID-JAG does not carry is invalid_scope; ID-JAG scopes the resource does not define are dropped (and audited).
        var defined = resource.Scopes.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        if (!Ema.Tokens.ScopeList.TryParse(request.Scope, out var requested))
        {
            return GrantResult.Fail(OAuthError.InvalidScope("The scope parameter is malformed."), audit);
        }

        var notGranted = requested.Where(s => !idJag.Scopes.Contains(s, StringComparer.Ordinal)).ToList();
        if (notGranted.Count > 0)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.ScopeBeyondGrant, $"The assertion does not grant '{notGranted[0]}'.", null), audit);
        }

        var dropped = idJag.Scopes.Where(s => !defined.Contains(s)).ToList();
        var granted = (requested.Count > 0 ? requested : idJag.Scopes).Where(defined.Contains).ToList();
        var scope = string.Join(' ', granted);

        // EMA-S §5.1, decision 16: an RFC 9068 token for exactly this resource; no refresh token (ID-JAG §4.4.3).
        var accessToken = _tokens.AccessTokens.Mint(new AccessTokenDescriptor
        {
            Issuer = _options.Issuer,
            Subject = account.Id,
            Audience = resource.Resource,
            ClientId = context.Client.Client.ClientId,
            Scope = scope,
            Lifetime = _options.AccessTokenLifetime,
            AuthTime = idJag.AuthTime,
            Acr = idJag.Acr,
            Amr = idJag.Amr,

            // RFC 9449 §5: a request with a valid DPoP proof gets a token bound to the proof's key — for a key-bound ID-JAG
            // the same key (checked above, ID-JAG §8.6.1.2) — which the resource servers accept only with that key's proofs.
            ConfirmationKeyThumbprint = context.DpopKeyThumbprint,
        });
        return new GrantResult
        {
            Tokens = new AccessTokenResponse { AccessToken = accessToken.Token, TokenType = context.DpopKeyThumbprint is null ? TokenTypes.Bearer : TokenTypes.Dpop, ExpiresIn = accessToken.ExpiresIn, Scope = scope, Resource = resource.Resource },
            Audit = audit with
            {
                TokenId = accessToken.JwtId,
                Scope = scope,
                Reason = dropped.Count == 0 ? null : "dropped scopes not defined by the resource: " + string.Join(' ', dropped),
            },
        };
    }
}
