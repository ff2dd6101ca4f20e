using System.Security.Claims;
using System.Text.Encodings.Web;
using Ema.Protocol;
using Ema.Server.AspNetCore.Endpoints;
using Ema.Server.AspNetCore.Results;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.Dpop;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ema.Server.AspNetCore.ProtectedResource;

/// <summary>
/// ASP.NET Core authentication for MCP servers protected by Ema: validates RFC 9068 access tokens from one authorization
/// server for this one resource (MCP authorization "Token Handling": <c>iss</c>, <c>aud</c>, <c>exp</c>, <c>typ</c>,
/// signature), remembers validated tokens until they expire, and answers with RFC 6750 / RFC 9728 challenges.
/// <c>[Authorize]</c>, policies and <c>HttpContext.User</c> work as usual.
/// </summary>
public sealed class EmaProtectedResourceHandler : AuthenticationHandler<EmaProtectedResourceOptions>
{
    private readonly EmaProtectedResourceState _state;

    public EmaProtectedResourceHandler(IOptionsMonitor<EmaProtectedResourceOptions> options, ILoggerFactory logger, UrlEncoder encoder, EmaProtectedResourceState state)
        : base(options, logger, encoder)
    {
        _state = state;
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var (token, dpopScheme) = RequestBody.AccessToken(Request);
        if (token is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (dpopScheme)
        {
            Context.Items[DpopItem] = true; // a refusal answers with a DPoP challenge too
        }

        var runtime = _state.For(Scheme.Name, Options, TimeProvider);
        var key = ValidatedTokenCache.Key(token);
        if (!runtime.Cache.TryGet(key, out var validated))
        {
            var result = await runtime.Validator.ValidateAsync(token, Context.RequestAborted).ConfigureAwait(false);
            if (!result.IsValid)
            {
                Context.Items[ErrorItem] = result.Error;
                return AuthenticateResult.Fail(result.Error!.Description);
            }

            validated = result.Value!;
            runtime.Cache.Add(key, validated);
        }

        // RFC 9449 §7.1: a token bound to a key is accepted only with the DPoP scheme and a proof, by that key, for this
        // very request (method, URI, ath); a Bearer token is not accepted under the DPoP scheme. The proof is checked on
        // every request — the validated-token cache never stands in for it.
        if (validated!.ConfirmationKeyThumbprint is { } bound)
        {
            Context.Items[DpopItem] = true;
            if (!dpopScheme)
            {
                return Refuse(OAuthError.From(ErrorIds.AccessTokenDpopBound));
            }

            var proofs = RequestBody.DpopProofs(Request);
            if (proofs.Count == 0 || bound.Length == 0)
            {
                // bound "": a cnf this server cannot match (no jkt) — no proof can satisfy it.
                return Refuse(OAuthError.From(ErrorIds.AccessTokenDpopProofInvalid, proofs.Count == 0 ? "no DPoP proof" : "cnf without jkt"));
            }

            // htu: the resource's public origin (its identifier's scheme and authority — right behind a TLS-terminating
            // proxy too, and not whatever Host header the request carries), with this request's path. The validator
            // refuses a proof by any key but the bound one.
            var url = $"{runtime.Origin}{Request.PathBase}{Request.Path}";
            var proof = await runtime.Dpop.ValidateAsync(proofs, Request.Method, url, token, bound, Context.RequestAborted).ConfigureAwait(false);
            if (!proof.IsValid)
            {
                return Refuse(OAuthError.From(ErrorIds.AccessTokenDpopProofInvalid, proof.Error!.Debug ?? proof.Error.ErrorId));
            }
        }
        else if (dpopScheme)
        {
            return Refuse(OAuthError.From(ErrorIds.AccessTokenNotDpopBound));
        }

        var identity = new ClaimsIdentity(Scheme.Name, JwtClaimNames.Subject, "role");
        identity.AddClaim(new Claim(JwtClaimNames.Subject, validated!.Subject));
        identity.AddClaim(new Claim(JwtClaimNames.ClientId, validated.ClientId));
        identity.AddClaim(new Claim(JwtClaimNames.JwtId, validated.JwtId));
        identity.AddClaim(new Claim(JwtClaimNames.Issuer, validated.Issuer));
        foreach (var scope in validated.Scopes)
        {
            identity.AddClaim(new Claim(EmaProtectedResourceDefaults.ScopeClaim, scope));
        }

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    private AuthenticateResult Refuse(OAuthError error)
    {
        Context.Items[ErrorItem] = error;
        return AuthenticateResult.Fail(error.Description);
    }

    // RFC 6750 §3 and RFC 9728 §5.1: point the client at the resource metadata; name the error when a token was refused.
    // RFC 9449 §7.1: a DPoP challenge beside it, naming the proof algorithms this server accepts.
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var error = Context.Items[ErrorItem] as OAuthError;
        var scope = Options.ScopesSupported.Count > 0 && error is null ? string.Join(' ', Options.ScopesSupported) : null;
        if (Context.Items.ContainsKey(DpopItem))
        {
            OAuthErrorWriter.WriteBearerAndDpopChallenge(Context, error, Options.ResourceMetadataUrl, scope, _state.For(Scheme.Name, Options, TimeProvider).Dpop.AllowedAlgorithms);
        }
        else
        {
            OAuthErrorWriter.WriteBearerChallenge(Context, error, Options.ResourceMetadataUrl, scope);
        }

        return Task.CompletedTask;
    }

    // RFC 6750 §3.1 insufficient_scope with the scope the endpoint needs (MCP "Scope Challenge Handling": the step-up signal).
    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var required = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<RequiredScopeAttribute>().Select(a => a.Scope).Distinct().ToArray() ?? [];
        var error = OAuthError.InsufficientScope(string.Join(' ', required));
        if (Context.Items.ContainsKey(DpopItem))
        {
            // RFC 9449 §7.1: a DPoP-bound token's holder is told in the DPoP challenge as well.
            OAuthErrorWriter.WriteBearerAndDpopChallenge(Context, error, Options.ResourceMetadataUrl, null, _state.For(Scheme.Name, Options, TimeProvider).Dpop.AllowedAlgorithms);
        }
        else
        {
            OAuthErrorWriter.WriteBearerChallenge(Context, error, Options.ResourceMetadataUrl);
        }

        return Task.CompletedTask;
    }

    private const string ErrorItem = "ema.bearer.error";
    private const string DpopItem = "ema.bearer.dpop";
}

/// <summary>Per-scheme validators and caches (created once per scheme, shared by every request).</summary>
public sealed class EmaProtectedResourceState
{
    private readonly Dictionary<string, Runtime> _schemes = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    internal sealed record Runtime(AccessTokenValidator Validator, ValidatedTokenCache Cache, DpopProofValidator Dpop, string Origin);

    internal Runtime For(string scheme, EmaProtectedResourceOptions options, TimeProvider time)
    {
        lock (_lock)
        {
            if (_schemes.TryGetValue(scheme, out var existing))
            {
                return existing;
            }

            var keys = options.Keys ?? new HttpJwksKeySource(
                options.Backchannel ?? throw new InvalidOperationException($"Scheme '{scheme}': set Keys or Backchannel."),
                new HttpJwksKeySourceOptions
                {
                    MetadataUri = MetadataUri(options.AuthorizationServer),
                    Issuer = options.AuthorizationServer,
                    AllowHttpOnLoopback = options.AllowHttpOnLoopback,
                },
                time);
            var runtime = new Runtime(
                new AccessTokenValidator(new AccessTokenValidationParameters { Issuer = options.AuthorizationServer, Audience = options.Resource, Keys = keys, ClockSkew = options.ClockSkew }, time),
                new ValidatedTokenCache(time, options.ValidatedTokenCacheSize, options.ClockSkew),
                new DpopProofValidator(options.DpopReplayCache ?? new InMemoryReplayCache(time), time), // proofs for DPoP-bound tokens, single-use per key
                new Uri(options.Resource).GetLeftPart(UriPartial.Authority));
            _schemes[scheme] = runtime;
            return runtime;
        }
    }

    // RFC 8414 §3: /.well-known/oauth-authorization-server inserted before the issuer's path.
    private static Uri MetadataUri(string issuer)
    {
        var uri = new Uri(issuer);
        var path = uri.AbsolutePath == "/" ? string.Empty : uri.AbsolutePath.TrimEnd('/');
        return new Uri(uri.GetLeftPart(UriPartial.Authority) + WellKnownPaths.OAuthAuthorizationServer + path);
    }
}

/// <summary>Marks an endpoint as needing a scope; a token without it gets 403 <c>insufficient_scope</c> naming it.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true)]
public sealed class RequiredScopeAttribute(string scope) : Attribute
{
    public string Scope { get; } = scope;
}
