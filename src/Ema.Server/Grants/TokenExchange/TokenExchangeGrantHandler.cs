using Ema.Protocol;
using Ema.Protocol.Messages;
using Ema.Server.Audit;
using Ema.Server.Grants.RefreshToken;
using Ema.Server.IdentityProvider;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Policy;
using Ema.Server.Stores;
using Ema.Tokens.IdJag;
using Ema.Tokens.IdTokens;
using Microsoft.Extensions.Options;

namespace Ema.Server.Grants.TokenExchange;

/// <summary>
/// RFC 8693 token exchange issuing ID-JAGs (ID-JAG draft §4.3; EMA-S §4; decisions 6–13). Reads top to bottom:
/// client permission → requested type → subject token → (audience, resource) pair → user → policy → ID-JAG.
/// </summary>
public sealed class TokenExchangeGrantHandler : IGrantHandler
{
    private readonly IApplicationStore _applications;
    private readonly IDirectoryStore _directory;
    private readonly IGrantStore _grants;
    private readonly IAccessPolicy _policy;
    private readonly IdentityProviderTokens _tokens;
    private readonly IdentityProviderOptions _options;
    private readonly TimeProvider _time;
    private readonly VerifiedSubjectTokenCache _verified;

    public TokenExchangeGrantHandler(IApplicationStore applications, IDirectoryStore directory, IGrantStore grants, IAccessPolicy policy, IdentityProviderTokens tokens, IOptions<IdentityProviderOptions> options, TimeProvider time, VerifiedSubjectTokenCache verified)
    {
        _verified = verified;
        ArgumentNullException.ThrowIfNull(options);
        _applications = applications;
        _directory = directory;
        _grants = grants;
        _policy = policy;
        _tokens = tokens;
        _options = options.Value;
        _time = time;
    }

    public string GrantType => GrantTypes.TokenExchange;

    public string AuditType => AuditEventTypes.TokenExchange;

    public IReadOnlyList<string> Parameters { get; } =
    [
        OAuthParameters.RequestedTokenType, OAuthParameters.SubjectToken, OAuthParameters.SubjectTokenType,
        OAuthParameters.Audience, OAuthParameters.Resource, OAuthParameters.Scope, OAuthParameters.ActorToken, OAuthParameters.ActorTokenType,
    ];

    public async Task<GrantResult> HandleAsync(TokenRequestContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var client = context.Client.Client;

        // EMA-S+ §7.7, decision 13: client authentication is required unless an admin allowed this public client.
        if (!client.TokenExchangeAllowed)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.GrantTypeNotAllowed, "token exchange is not enabled for this client"));
        }

        if (!context.Client.Authenticated && !client.PublicTokenExchangeAllowed)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.PublicClientTokenExchangeNotAllowed));
        }

        var parsed = TokenExchangeRequest.FromForm(context.Request.Parameters);
        if (parsed.Error is not null)
        {
            return GrantResult.Fail(parsed.Error);
        }

        var request = parsed.Request!;

        // ID-JAG draft §4.3: this endpoint issues ID-JAGs only.
        if (request.RequestedTokenType != TokenTypes.IdJag)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.RequestedTokenTypeUnsupported, $"requested_token_type={request.RequestedTokenType}"));
        }

        // ADR 0007: a client registered as DPoP-required gets key-bound ID-JAGs only — never an unbound one for want of a proof.
        if (client.RequireDpop && context.DpopKeyThumbprint is null)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.DpopProofRequired));
        }

        // ID-JAG draft §4.3, §8.5: actor tokens have no defined processing; refuse rather than ignore.
        if (request.ActorToken is not null || request.ActorTokenType is not null)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.ActorTokenUnsupported));
        }

        var subject = await ValidateSubjectTokenAsync(request, client, cancellationToken).ConfigureAwait(false);
        if (subject.Error is not null)
        {
            return GrantResult.Fail(subject.Error, new() { Subject = subject.UserId, ParentTokenId = subject.TokenId });
        }

        var audit = new GrantAuditDetails { Subject = subject.UserId, ParentTokenId = subject.TokenId, SessionId = subject.SessionId, Scope = request.Scope };

        // ID-JAG §4.3.3: authorization_details MUST be parsed as a JSON array and processed per RFC 9396, whose §5 makes
        // an unknown type a refusal, not something to drop. Ema's IdP defines no type (ADR 0004): an empty array asks
        // for nothing and passes; any entry is refused with invalid_authorization_details, naming its type.
        if (request.AuthorizationDetails is { } details)
        {
            var types = AuthorizationDetails.ReadTypes(details, out var problem);
            if (types is null)
            {
                return GrantResult.Fail(OAuthError.From(ErrorIds.AuthorizationDetailsMalformed, $"{ErrorIds.AuthorizationDetailsMalformed.Description} {problem}.", null), audit);
            }

            if (types.Count > 0)
            {
                return GrantResult.Fail(OAuthError.From(ErrorIds.AuthorizationDetailsUnsupported, $"type={DebugText.Untrusted(types[0])}"), audit);
            }
        }

        // Decision 7, EMA-S+ §7.6.1: audience and resource are both required and must be a registered pair.
        if (request.Audiences.Count != 1)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.AudienceRequired, $"audiences={request.Audiences.Count}"), audit);
        }

        if (request.Resources.Count != 1)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.ResourceRequired, $"resources={request.Resources.Count}"), audit);
        }

        var resource = await FindResourceAsync(request.Resources[0], cancellationToken).ConfigureAwait(false);
        audit = audit with { Resource = request.Resources[0], Audience = request.Audiences[0] };
        if (resource is null)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.ResourceUnknown, $"resource={request.Resources[0]}"), audit);
        }

        audit = audit with { Resource = resource.Resource };
        if (!resource.Enabled)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.ResourceDisabled), audit);
        }

        // Decision 6: tolerate one trailing slash when matching, then write the registered canonical issuer into aud.
        if (!SameIgnoringTrailingSlash(request.Audiences[0], resource.AuthorizationServerIssuer))
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.AudienceResourceMismatch, $"audience={request.Audiences[0]}"), audit);
        }

        audit = audit with { Audience = resource.AuthorizationServerIssuer };
        var user = await _directory.FindUserAsync(subject.UserId!, cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.SubjectTokenInvalid, "user not found"), audit);
        }

        if (!Ema.Tokens.ScopeList.TryParse(request.Scope, out var requestedScopes))
        {
            return GrantResult.Fail(OAuthError.From(ErrorIds.ScopeUnknown, "scope syntax", null), audit);
        }

        // ID-JAG draft §4.3.3: the IdP MUST evaluate administrator policy.
        var decision = await _policy.EvaluateAsync(
            new AccessRequest
            {
                User = user,
                GroupIds = await _directory.GetGroupIdsAsync(user.Id, cancellationToken).ConfigureAwait(false),
                Roles = await _directory.GetRolesAsync(user.Id, cancellationToken).ConfigureAwait(false),
                Client = client,
                Resource = resource,
                RequestedScopes = requestedScopes,
                Authentication = subject.Authentication!,
                RemoteAddress = context.RemoteAddress,
                Now = _time.GetUtcNow(),
            },
            cancellationToken).ConfigureAwait(false);
        audit = audit with { DecisionId = decision.DecisionId, Reason = string.Join("; ", decision.Explanation) };
        if (!decision.Allowed)
        {
            return GrantResult.Fail(decision.Error! with { DecisionId = decision.DecisionId }, audit);
        }

        // ID-JAG draft §5: client_id is the client's id at the resource's authorization server.
        var clientIdAtResource = await _applications.FindClientIdAtResourceAsync(client.ClientId, resource.Id, cancellationToken).ConfigureAwait(false) ?? client.ClientId;
        var grantedScope = string.Join(' ', decision.GrantedScopes);
        var idJag = _tokens.IdJags.Mint(new IdJagDescriptor
        {
            ConfirmationKeyThumbprint = context.DpopKeyThumbprint, // ID-JAG §8.6.1.1: a DPoP proof binds the ID-JAG to its key
            Issuer = _tokens.Issuer,
            Subject = user.Id,
            Audience = resource.AuthorizationServerIssuer,
            ClientId = clientIdAtResource,
            Resources = [resource.Resource],
            Scope = grantedScope,
            Lifetime = _options.IdJagLifetime,
            AuthTime = subject.Authentication!.AuthTime,
            Acr = subject.Authentication.Acr,
            Amr = subject.Authentication.Amr,
        });

        return new GrantResult
        {
            // RFC 8693 §2.2.1, decision 12: issued_token_type id-jag, token_type exactly N_A, the granted scope.
            Exchange = new TokenExchangeResponse
            {
                AccessToken = idJag.Token,
                IssuedTokenType = TokenTypes.IdJag,
                TokenType = TokenTypes.NotApplicable,
                ExpiresIn = idJag.ExpiresIn,
                Scope = grantedScope,
            },
            Audit = audit with { TokenId = idJag.JwtId, Scope = grantedScope },
        };
    }

    private sealed record SubjectResult(string? UserId, string? TokenId, string? SessionId, AuthenticationContext? Authentication, OAuthError? Error);

    // ID-JAG draft §4.3.3: validate the subject token and that it was issued to the authenticated client.
    private async Task<SubjectResult> ValidateSubjectTokenAsync(TokenExchangeRequest request, ClientApplication client, CancellationToken cancellationToken)
    {
        switch (request.SubjectTokenType)
        {
            case TokenTypes.IdToken:
                var validated = await _verified.ValidateAsync(_tokens.IdTokenValidator, request.SubjectToken, cancellationToken).ConfigureAwait(false);
                if (validated.Failure == IdTokenFailure.Expired)
                {
                    return new(null, null, null, null, OAuthError.From(ErrorIds.SubjectTokenExpired, validated.Debug));
                }

                if (validated.Value is not { } idToken)
                {
                    return new(null, null, null, null, OAuthError.From(ErrorIds.SubjectTokenInvalid, validated.Debug));
                }

                // OIDC Core §3.1.3.7 items 3–5 and ID-JAG §4.3.3: aud must contain this client (azp when several).
                var issuedToClient = idToken.Audiences.Contains(client.ClientId, StringComparer.Ordinal)
                    && (idToken.Audiences.Count == 1 || idToken.AuthorizedParty == client.ClientId);
                if (!issuedToClient)
                {
                    return new(idToken.Subject, idToken.JwtId, idToken.SessionId, null, OAuthError.From(ErrorIds.SubjectTokenClientMismatch, $"aud={string.Join(' ', idToken.Audiences)}"));
                }

                // Central revocation: an ID token from a session that has signed out no longer yields grants.
                if (idToken.SessionId is not null && await _grants.FindSessionAsync(idToken.SessionId, cancellationToken).ConfigureAwait(false) is { Revoked: true })
                {
                    return new(idToken.Subject, idToken.JwtId, idToken.SessionId, null, OAuthError.From(ErrorIds.SubjectTokenInvalid, "session revoked"));
                }

                // The client signed out of this session (it revoked its refresh token, RFC 7009, or one was reused): the ID
                // tokens it held from the session no longer yield grants, whoever holds them now.
                if (idToken.SessionId is not null && await _grants.IsVoidedByClientSignOutAsync(idToken.SessionId, client.ClientId, idToken.IssuedAt, cancellationToken).ConfigureAwait(false))
                {
                    return new(idToken.Subject, idToken.JwtId, idToken.SessionId, null, OAuthError.From(ErrorIds.SubjectTokenInvalid, "the client signed out of this session"));
                }

                // Self-service disconnection ("my connections"): ID tokens the client held before it no longer yield grants.
                if (await _grants.IsVoidedByDisconnectionAsync(idToken.Subject, client.ClientId, idToken.IssuedAt, cancellationToken).ConfigureAwait(false))
                {
                    return new(idToken.Subject, idToken.JwtId, idToken.SessionId, null, OAuthError.From(ErrorIds.SubjectTokenInvalid, "the user disconnected this client"));
                }

                return new(idToken.Subject, idToken.JwtId, idToken.SessionId, new AuthenticationContext(idToken.AuthTime, idToken.Amr, idToken.Acr), null);

            case TokenTypes.RefreshToken:
                // ID-JAG draft §4.3.3: validated as for a refresh_token grant (bound to the client, live, not revoked).
                var check = await RefreshTokenCheck.FindActiveAsync(_grants, _directory, request.SubjectToken, client.ClientId, _time, cancellationToken, ErrorIds.SubjectTokenInvalid).ConfigureAwait(false);
                if (check.Error is not null)
                {
                    var error = check.Error.ErrorId == ErrorIds.SubjectTokenInvalid.Id ? check.Error : OAuthError.From(ErrorIds.SubjectTokenInvalid, check.Error.Description, check.Error.Debug);
                    return new(check.Grant?.UserId, null, check.Grant?.SessionId, null, error);
                }

                var grant = check.Grant!;
                return new(grant.UserId, null, grant.SessionId, new AuthenticationContext(grant.AuthTime, grant.Amr, grant.Acr), null);

            default:
                return new(null, null, null, null, OAuthError.From(ErrorIds.SubjectTokenTypeUnsupported, $"subject_token_type={request.SubjectTokenType}"));
        }
    }

    private async Task<ResourceApplication?> FindResourceAsync(string resource, CancellationToken cancellationToken) =>
        await _applications.FindResourceByIdentifierAsync(resource, cancellationToken).ConfigureAwait(false)
        ?? (resource.EndsWith('/')
            ? await _applications.FindResourceByIdentifierAsync(resource[..^1], cancellationToken).ConfigureAwait(false)
            : await _applications.FindResourceByIdentifierAsync(resource + "/", cancellationToken).ConfigureAwait(false));

    private static bool SameIgnoringTrailingSlash(string a, string b) =>
        string.Equals(a.TrimEnd('/'), b.TrimEnd('/'), StringComparison.Ordinal) && Math.Abs(a.Length - b.Length) <= 1;
}
