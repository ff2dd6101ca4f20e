using System.Net.Http.Json;
using System.Text.Json;
using Ema.Protocol;
using Ema.Server.Model;

namespace Ema.Admin;

/// <summary>The HTTP client the console uses for connection checks (the host configures its TLS trust and timeouts).</summary>
public sealed class ConsoleHttpClient(HttpClient client)
{
    public HttpClient Client => client;
}

/// <summary>One step of a connection check.</summary>
public sealed record ConnectionCheckStep(string Name, bool Passed, string Detail);

/// <summary>A connection check's steps and its verdict.</summary>
public sealed record ConnectionCheckReport(IReadOnlyList<ConnectionCheckStep> Steps)
{
    /// <summary>Whether everything passed: the MCP server is reachable through EMA as registered.</summary>
    public bool Passed => Steps.Count > 0 && Steps.All(s => s.Passed);
}

/// <summary>
/// Checks a registered MCP server the way a client will meet it: its RFC 9728 protected-resource metadata must name
/// the registered resource and authorization server, and that server's RFC 8414 metadata must name itself and
/// advertise the jwt-bearer grant and the ID-JAG profile (EMA-S §6; ID-JAG §7.2).
/// </summary>
public sealed class ResourceConnectionCheck(ConsoleHttpClient http)
{
    public async Task<ConnectionCheckReport> CheckAsync(ResourceApplication resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var steps = new List<ConnectionCheckStep>();
        var prmUrl = WellKnown(resource.Resource, WellKnownPaths.OAuthProtectedResource);
        var (prm, prmProblem) = await FetchAsync(prmUrl, EmaJsonContext.Default.ProtectedResourceMetadata, cancellationToken).ConfigureAwait(false);
        if (prm is null)
        {
            steps.Add(new("Protected-resource metadata", false, $"{prmUrl}: {prmProblem}"));
            return new(steps);
        }

        // RFC 9728 §3.3: the resource value must be the identifier the metadata was fetched for.
        var resourceMatches = string.Equals(prm.Resource, resource.Resource, StringComparison.Ordinal);
        steps.Add(new("Protected-resource metadata", resourceMatches, resourceMatches ? $"{prmUrl} names the resource {prm.Resource}" : $"{prmUrl} names the resource '{prm.Resource}', not '{resource.Resource}'"));
        var listsServer = prm.AuthorizationServers?.Contains(resource.AuthorizationServerIssuer, StringComparer.Ordinal) == true;
        steps.Add(new("Authorization server", listsServer, listsServer
            ? $"the resource names {resource.AuthorizationServerIssuer}"
            : $"the resource names {string.Join(", ", prm.AuthorizationServers ?? [])}, not the registered {resource.AuthorizationServerIssuer}"));
        if (!listsServer)
        {
            return new(steps);
        }

        var asUrl = WellKnown(resource.AuthorizationServerIssuer, WellKnownPaths.OAuthAuthorizationServer);
        var (metadata, asProblem) = await FetchAsync(asUrl, EmaJsonContext.Default.AuthorizationServerMetadata, cancellationToken).ConfigureAwait(false);
        if (metadata is null)
        {
            steps.Add(new("Authorization-server metadata", false, $"{asUrl}: {asProblem}"));
            return new(steps);
        }

        // RFC 8414 §3.3: issuer must equal the issuer the metadata was fetched for.
        var issuerMatches = string.Equals(metadata.Issuer, resource.AuthorizationServerIssuer, StringComparison.Ordinal);
        steps.Add(new("Authorization-server metadata", issuerMatches, issuerMatches ? $"{asUrl} names the issuer {metadata.Issuer}" : $"{asUrl} names the issuer '{metadata.Issuer}'"));
        var jwtBearer = metadata.GrantTypesSupported?.Contains(GrantTypes.JwtBearer, StringComparer.Ordinal) == true;
        steps.Add(new("jwt-bearer grant", jwtBearer, jwtBearer ? "grant_types_supported includes the RFC 7523 jwt-bearer grant" : "grant_types_supported does not include the jwt-bearer grant"));
        var profile = metadata.AuthorizationGrantProfilesSupported?.Contains(GrantProfiles.IdJag, StringComparer.Ordinal) == true;
        steps.Add(new("ID-JAG profile", profile, profile ? "authorization_grant_profiles_supported includes the ID-JAG profile" : "authorization_grant_profiles_supported does not include the ID-JAG profile"));
        return new(steps);
    }

    /// <summary>RFC 9728 §3.1 / RFC 8414 §3.1: the well-known suffix goes between the host and the path.</summary>
    internal static string WellKnown(string identifier, string suffix)
    {
        var uri = new Uri(identifier);
        var path = uri.AbsolutePath == "/" ? string.Empty : uri.AbsolutePath.TrimEnd('/');
        return uri.GetLeftPart(UriPartial.Authority) + suffix + path;
    }

    private async Task<(T? Value, string? Problem)> FetchAsync<T>(string url, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            using var response = await http.Client.GetAsync(new Uri(url), cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                // Redirects are not followed (the handler is configured so): metadata must be at its well-known URL.
                return (null, $"HTTP {(int)response.StatusCode}");
            }

            var value = await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false);
            return value is null ? (null, "empty document") : (value, null);
        }
        catch (HttpRequestException)
        {
            return (null, "unreachable (connection, TLS or size limit)");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, "timed out");
        }
        catch (JsonException)
        {
            return (null, "not a valid metadata document");
        }
    }
}
