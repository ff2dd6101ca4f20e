using System.Collections.Concurrent;
using System.Text.Json;
using Ema.Protocol;

namespace Ema.Client.Discovery;

/// <summary>What the client learns about one MCP server before asking for a token.</summary>
/// <param name="Resource">The RFC 9728 <c>resource</c>, byte for byte (sent as <c>resource</c> in both requests).</param>
/// <param name="ScopesSupported">The metadata's <c>scopes_supported</c>.</param>
/// <param name="AuthorizationServer">The chosen authorization server's metadata (its <c>issuer</c> is the <c>audience</c>).</param>
/// <param name="Interactive">The server offers no Enterprise-Managed Authorization and the client was allowed to fall back
/// to the interactive authorization-code flow at its AS (decision 11: off by default).</param>
internal sealed record ResourceBinding(string Resource, IReadOnlyList<string> ScopesSupported, AuthorizationServerMetadata AuthorizationServer, bool Interactive = false);

/// <summary>
/// RFC 9728 protected-resource metadata and RFC 8414 / OIDC authorization-server metadata discovery with the MCP
/// authorization spec's location rules and issuer check (spec §2(a)7–9), remembered per URL for the client's lifetime.
/// </summary>
internal sealed class MetadataDiscovery(HttpClient http, EmaClientOptions options)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<OpenIdProviderMetadata>>> _servers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<ResourceBinding>>> _resources = new(StringComparer.Ordinal);

    /// <summary>The protected resource's metadata and the first of its authorization servers that offers the ID-JAG profile
    /// (decision 8). <paramref name="resourceMetadataUrl"/> comes from a 401 challenge when there was one.</summary>
    public Task<ResourceBinding> DiscoverResourceAsync(string resource, string? resourceMetadataUrl, CancellationToken cancellationToken) =>
        Remember(_resources, resource, () => DiscoverResourceCoreAsync(resource, resourceMetadataUrl, cancellationToken));

    /// <summary>Authorization-server (or OIDC provider) metadata whose <c>issuer</c> is exactly <paramref name="issuer"/>.</summary>
    public Task<OpenIdProviderMetadata> DiscoverServerAsync(string issuer, CancellationToken cancellationToken) =>
        Remember(_servers, issuer, () => DiscoverServerCoreAsync(issuer, cancellationToken));

    /// <summary>Forgets a resource (its metadata may have changed, e.g. after a 401 naming another metadata URL).</summary>
    public void ForgetResource(string resource) => _resources.TryRemove(resource, out _);

    private static async Task<T> Remember<T>(ConcurrentDictionary<string, Lazy<Task<T>>> cache, string key, Func<Task<T>> load)
    {
        var lazy = cache.GetOrAdd(key, _ => new Lazy<Task<T>>(load));
        try
        {
            return await lazy.Value.ConfigureAwait(false);
        }
        catch
        {
            cache.TryRemove(new KeyValuePair<string, Lazy<Task<T>>>(key, lazy)); // failures are not remembered
            throw;
        }
    }

    private async Task<ResourceBinding> DiscoverResourceCoreAsync(string resource, string? resourceMetadataUrl, CancellationToken cancellationToken)
    {
        // MCP authorization "Protected Resource Metadata Discovery": the challenge's URL, else the path-inserted
        // well-known URL, else the root one (RFC 9728 §3.1).
        var uri = new Uri(resource);
        var path = uri.AbsolutePath == "/" ? string.Empty : uri.AbsolutePath.TrimEnd('/');
        var origin = uri.GetLeftPart(UriPartial.Authority);
        var candidates = resourceMetadataUrl is not null
            ? [resourceMetadataUrl]
            : path.Length > 0
                ? new[] { origin + WellKnownPaths.OAuthProtectedResource + path, origin + WellKnownPaths.OAuthProtectedResource }
                : [origin + WellKnownPaths.OAuthProtectedResource];

        ProtectedResourceMetadata? metadata = null;
        foreach (var candidate in candidates)
        {
            metadata = await GetJsonAsync(candidate, EmaJsonContext.Default.ProtectedResourceMetadata, cancellationToken).ConfigureAwait(false);
            if (metadata is not null)
            {
                break;
            }
        }

        if (metadata is null)
        {
            throw new EmaProtocolException($"{resource} publishes no protected-resource metadata (RFC 9728).");
        }

        // RFC 9728 §3.3: the metadata's resource must be the resource we asked about.
        if (!string.Equals(metadata.Resource, resource, StringComparison.Ordinal))
        {
            throw new EmaProtocolException($"{resource}: its metadata names another resource ('{metadata.Resource}'); refusing it (RFC 9728 §3.3).");
        }

        var reasons = new List<string>();
        foreach (var issuer in metadata.AuthorizationServers ?? [])
        {
            if (!options.IsAcceptableUrl(issuer))
            {
                reasons.Add($"{issuer}: not https");
                continue;
            }

            OpenIdProviderMetadata server;
            try
            {
                server = await DiscoverServerAsync(issuer, cancellationToken).ConfigureAwait(false);
            }
            catch (EmaProtocolException ex)
            {
                reasons.Add(ex.Message);
                continue;
            }

            // Spec §2(a)9: the jwt-bearer grant must be advertised, and the ID-JAG profile too when the server lists
            // profiles at all (ID-JAG §7.2). A server listing none is given the benefit of the doubt, as the reference
            // clients do: absence of the list does not prove lack of support.
            if (server.GrantTypesSupported?.Contains(GrantTypes.JwtBearer) == true
                && (server.AuthorizationGrantProfilesSupported is null || server.AuthorizationGrantProfilesSupported.Contains(GrantProfiles.IdJag))
                && server.TokenEndpoint is not null)
            {
                return new ResourceBinding(metadata.Resource, metadata.ScopesSupported ?? [], server);
            }

            reasons.Add($"{issuer} does not offer the ID-JAG profile ({GrantProfiles.IdJag} with the jwt-bearer grant)");
            if (options.AllowInteractiveAuthorization && server.AuthorizationEndpoint is { } endpoint && options.IsAcceptableUrl(endpoint) && server.TokenEndpoint is not null)
            {
                // Decision 11: only when the host opted in, a server without EMA gets the ordinary MCP authorization flow.
                return new ResourceBinding(metadata.Resource, metadata.ScopesSupported ?? [], server, Interactive: true);
            }
        }

        throw new EmaProtocolException($"{resource}: no authorization server offers Enterprise-Managed Authorization ({(reasons.Count == 0 ? "none listed" : string.Join("; ", reasons))}).");
    }

    private async Task<OpenIdProviderMetadata> DiscoverServerCoreAsync(string issuer, CancellationToken cancellationToken)
    {
        // MCP authorization "Authorization Server Metadata Discovery" (RFC 8414 §3.1 path insertion; OIDC Discovery §4).
        var uri = new Uri(issuer);
        var path = uri.AbsolutePath == "/" ? string.Empty : uri.AbsolutePath.TrimEnd('/');
        var origin = uri.GetLeftPart(UriPartial.Authority);
        var candidates = path.Length > 0
            ? new[] { origin + WellKnownPaths.OAuthAuthorizationServer + path, origin + WellKnownPaths.OpenIdConfiguration + path, origin + path + WellKnownPaths.OpenIdConfiguration }
            : [origin + WellKnownPaths.OAuthAuthorizationServer, origin + WellKnownPaths.OpenIdConfiguration];
        foreach (var candidate in candidates)
        {
            var metadata = await GetJsonAsync(candidate, EmaJsonContext.Default.OpenIdProviderMetadata, cancellationToken).ConfigureAwait(false);
            if (metadata is null)
            {
                continue;
            }

            // RFC 8414 §3.3: the issuer must be identical to the one the URL was built from.
            if (!string.Equals(metadata.Issuer, issuer, StringComparison.Ordinal))
            {
                throw new EmaProtocolException($"Metadata at {candidate} names issuer '{metadata.Issuer}', not '{issuer}' (RFC 8414 §3.3).");
            }

            if (metadata.TokenEndpoint is not null && !options.IsAcceptableUrl(metadata.TokenEndpoint))
            {
                throw new EmaProtocolException($"{issuer}: its token endpoint is not https.");
            }

            return metadata;
        }

        throw new EmaProtocolException($"{issuer} publishes no authorization-server metadata (RFC 8414).");
    }

    /// <summary>The parsed document, or null for 404/410 (try the next location); other failures throw.</summary>
    private async Task<T?> GetJsonAsync<T>(string url, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd(MediaTypes.Json);
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return (int)response.StatusCode is >= 400 and < 500 ? null : throw new EmaProtocolException($"{url} answered HTTP {(int)response.StatusCode}.");
        }

        try
        {
            return JsonSerializer.Deserialize(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false), type);
        }
        catch (JsonException ex)
        {
            throw new EmaProtocolException($"{url} is not valid metadata JSON.", ex);
        }
    }
}
