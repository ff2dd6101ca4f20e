using System.Text.Json;
using Ema.Protocol;
using Ema.Server.AuthorizationServer;
using Ema.Server.Grants;
using Ema.Server.Options;
using Ema.Server.Stores;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ema.Server.AspNetCore.Endpoints;

/// <summary>Maps the authorization server for MCP servers: RFC 8414 metadata, JWKS, and the jwt-bearer token endpoint.</summary>
public static class AuthorizationServerEndpoints
{
    /// <summary>
    /// Maps the authorization server under its issuer's path, with metadata both at the RFC 8414 §3 path-inserted location
    /// and at <c>{issuer}/.well-known/oauth-authorization-server</c> (decision 19; the MCP C# SDK appends, the OAuth
    /// discovery of the SDKs inserts).
    /// </summary>
    public static IEndpointRouteBuilder MapEmaAuthorizationServer(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<AuthorizationServerOptions>>().Value;
        var prefix = new Uri(options.Issuer).AbsolutePath.TrimEnd('/');
        endpoints.MapGet(WellKnownPaths.OAuthAuthorizationServer + prefix, (HttpContext ctx) => MetadataAsync(ctx, options));
        endpoints.MapGet(prefix + WellKnownPaths.OAuthAuthorizationServer, (HttpContext ctx) => MetadataAsync(ctx, options));
        endpoints.MapGet(prefix + "/jwks", (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "public, max-age=300";
            ctx.Response.ContentType = MediaTypes.JwkSet;
            return JsonSerializer.SerializeAsync(ctx.Response.Body, ctx.RequestServices.GetRequiredService<AuthorizationServerTokens>().Ring.Jwks, EmaJsonContext.Default.JsonWebKeySetDocument, ctx.RequestAborted);
        });
        // RFC 8414 lists authorization_endpoint as required when such grants exist, and some clients (the MCP TypeScript
        // SDK) require the member outright. It exists, but offers no response types: access is only through the ID-JAG
        // profile, never interactive per-server consent (decision 11). It never redirects (RFC 6749 §4.1.2.1).
        endpoints.MapGet(prefix + "/authorize", (HttpContext ctx) => Pages.ErrorAsync(
            ctx,
            "Interactive authorization is not available",
            "This authorization server issues access tokens only through your organization's identity provider (enterprise-managed authorization). Sign in to your AI client with your company account instead.",
            StatusCodes.Status400BadRequest));
        endpoints.MapPost(prefix + "/token", async (HttpContext ctx) =>
        {
            var service = ctx.RequestServices.GetRequiredKeyedService<TokenEndpointService>(EmaRoles.AuthorizationServer);
            var remote = ctx.Connection.RemoteIpAddress?.ToString();
            var form = await RequestBody.ReadFormAsync(ctx.Request, FormParserOptions.Default).ConfigureAwait(false);
            var result = form.IsSuccess
                ? await service.HandleAsync(form.Parameters!, ctx.Request.Headers.Authorization.FirstOrDefault(), remote, RequestBody.DpopProofs(ctx.Request), ctx.RequestAborted).ConfigureAwait(false)
                : await service.RejectAsync(form.Error!, remote, null, null, ctx.RequestAborted).ConfigureAwait(false);
            await IdentityProviderEndpoints.WriteTokenResultAsync(ctx, result).ConfigureAwait(false);
        });
        return endpoints;
    }

    private static async Task MetadataAsync(HttpContext ctx, AuthorizationServerOptions options)
    {
        var store = ctx.RequestServices.GetRequiredService<IAuthorizationServerStore>();
        var resources = await store.ListResourcesAsync(ctx.RequestAborted).ConfigureAwait(false);

        // spec-requirements §2(c)26: advertise the jwt-bearer grant and the ID-JAG profile only once an issuer is trusted;
        // §2(c)25: never list which issuers are trusted.
        var ready = (await store.ListTrustedIssuersAsync(ctx.RequestAborted).ConfigureAwait(false)).Any(i => i.Enabled);
        var metadata = new AuthorizationServerMetadata
        {
            Issuer = options.Issuer,
            AuthorizationEndpoint = options.Issuer + "/authorize",
            TokenEndpoint = options.Issuer + "/token",
            JwksUri = options.Issuer + "/jwks",
            ResponseTypesSupported = [],
            GrantTypesSupported = ready ? [GrantTypes.JwtBearer] : [],
            AuthorizationGrantProfilesSupported = ready ? [GrantProfiles.IdJag] : null,
            TokenEndpointAuthMethodsSupported = [ClientAuthenticationMethods.ClientSecretBasic, ClientAuthenticationMethods.ClientSecretPost, ClientAuthenticationMethods.PrivateKeyJwt],
            TokenEndpointAuthSigningAlgValuesSupported = SecurityAlgorithms.DefaultAccepted, // private_key_jwt (RFC 8414 §2)

            // RFC 9449 §5.1: proofs are checked here — a key-bound ID-JAG (cnf.jkt) is redeemed only with its key's proof.
            DpopSigningAlgValuesSupported = ctx.RequestServices.GetRequiredService<Ema.Tokens.Dpop.DpopProofValidator>().AllowedAlgorithms,
            ScopesSupported = [.. resources.SelectMany(r => r.Scopes).Select(s => s.Name).Distinct(StringComparer.Ordinal)],
        };
        ctx.Response.Headers.CacheControl = "public, max-age=300";
        ctx.Response.ContentType = MediaTypes.Json;
        await JsonSerializer.SerializeAsync(ctx.Response.Body, metadata, EmaJsonContext.Default.AuthorizationServerMetadata, ctx.RequestAborted).ConfigureAwait(false);
    }
}
