using System.Security.Claims;
using System.Text.Encodings.Web;
using Ema.Protocol;
using Ema.Server.AspNetCore.Endpoints;
using Ema.Server.AspNetCore.Results;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.Keys;
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
        var token = RequestBody.BearerToken(Request);
        if (token is null)
        {
            return AuthenticateResult.NoResult();
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

    // RFC 6750 §3 and RFC 9728 §5.1: point the client at the resource metadata; name the error when a token was refused.
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var error = Context.Items[ErrorItem] as OAuthError;
        OAuthErrorWriter.WriteBearerChallenge(Context, error, Options.ResourceMetadataUrl, Options.ScopesSupported.Count > 0 && error is null ? string.Join(' ', Options.ScopesSupported) : null);
        return Task.CompletedTask;
    }

    // RFC 6750 §3.1 insufficient_scope with the scope the endpoint needs (MCP "Scope Challenge Handling": the step-up signal).
    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var required = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<RequiredScopeAttribute>().Select(a => a.Scope).Distinct().ToArray() ?? [];
        OAuthErrorWriter.WriteBearerChallenge(Context, OAuthError.InsufficientScope(string.Join(' ', required)), Options.ResourceMetadataUrl);
        return Task.CompletedTask;
    }

    private const string ErrorItem = "ema.bearer.error";
}

/// <summary>Per-scheme validators and caches (created once per scheme, shared by every request).</summary>
public sealed class EmaProtectedResourceState
{
    private readonly Dictionary<string, Runtime> _schemes = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    internal sealed record Runtime(AccessTokenValidator Validator, ValidatedTokenCache Cache);

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
                new ValidatedTokenCache(time, options.ValidatedTokenCacheSize, options.ClockSkew));
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
