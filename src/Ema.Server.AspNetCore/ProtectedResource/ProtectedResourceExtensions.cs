using System.Text.Json;
using Ema.Protocol;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Ema.Server.AspNetCore.ProtectedResource;

/// <summary>Registration and mapping for MCP servers protected by Ema.</summary>
public static class ProtectedResourceExtensions
{
    /// <summary>Adds the Ema bearer scheme (RFC 9068 tokens from one authorization server, for one resource).</summary>
    public static AuthenticationBuilder AddEmaProtectedResource(this AuthenticationBuilder builder, string scheme, Action<EmaProtectedResourceOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<EmaProtectedResourceState>();
        builder.Services.AddOptions<EmaProtectedResourceOptions>(scheme).Validate(
            o => Uri.TryCreate(o.Resource, UriKind.Absolute, out _) && Uri.TryCreate(o.AuthorizationServer, UriKind.Absolute, out _) && (o.Keys is not null || o.Backchannel is not null),
            $"Scheme '{scheme}': Resource and AuthorizationServer must be absolute URLs, and Keys or Backchannel must be set.").ValidateOnStart();
        return builder.AddScheme<EmaProtectedResourceOptions, EmaProtectedResourceHandler>(scheme, configure);
    }

    /// <summary>Adds the Ema bearer scheme under its default name.</summary>
    public static AuthenticationBuilder AddEmaProtectedResource(this AuthenticationBuilder builder, Action<EmaProtectedResourceOptions> configure) =>
        builder.AddEmaProtectedResource(EmaProtectedResourceDefaults.AuthenticationScheme, configure);

    /// <summary>
    /// Serves RFC 9728 metadata for the scheme's resource at <c>/.well-known/oauth-protected-resource{path}</c>
    /// (the path-inserted form, RFC 9728 §3.1; for a resource at the root, the root form).
    /// </summary>
    public static IEndpointConventionBuilder MapEmaProtectedResourceMetadata(this IEndpointRouteBuilder endpoints, string scheme = EmaProtectedResourceDefaults.AuthenticationScheme)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = endpoints.ServiceProvider.GetRequiredService<IOptionsMonitor<EmaProtectedResourceOptions>>().Get(scheme);
        var path = new Uri(options.ResourceMetadataUrl).AbsolutePath;
        return endpoints.MapGet(path, (HttpContext ctx) =>
        {
            var metadata = new ProtectedResourceMetadata
            {
                Resource = options.Resource,
                AuthorizationServers = [options.AuthorizationServer],
                ScopesSupported = options.ScopesSupported.Count > 0 ? options.ScopesSupported : null,
                BearerMethodsSupported = ["header"],
                ResourceName = options.ResourceName,
            };
            ctx.Response.Headers.CacheControl = "public, max-age=300";
            ctx.Response.ContentType = MediaTypes.Json;
            return JsonSerializer.SerializeAsync(ctx.Response.Body, metadata, EmaJsonContext.Default.ProtectedResourceMetadata, ctx.RequestAborted);
        });
    }

    /// <summary>Requires an Ema bearer token carrying <paramref name="scope"/>; without it the caller gets 403 <c>insufficient_scope</c>.</summary>
    public static TBuilder RequireEmaScope<TBuilder>(this TBuilder builder, string scope, string scheme = EmaProtectedResourceDefaults.AuthenticationScheme)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.WithMetadata(new RequiredScopeAttribute(scope));
        return builder.RequireAuthorization(new AuthorizationPolicyBuilder(scheme).RequireAuthenticatedUser().RequireClaim(EmaProtectedResourceDefaults.ScopeClaim, scope).Build());
    }

    /// <summary>Requires an Ema bearer token (any scope).</summary>
    public static TBuilder RequireEmaToken<TBuilder>(this TBuilder builder, string scheme = EmaProtectedResourceDefaults.AuthenticationScheme)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.RequireAuthorization(new AuthorizationPolicyBuilder(scheme).RequireAuthenticatedUser().Build());
    }
}
