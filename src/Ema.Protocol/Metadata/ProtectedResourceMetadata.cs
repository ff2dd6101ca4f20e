using System.Text.Json.Serialization;

namespace Ema.Protocol;

/// <summary>RFC 9728 §2 OAuth 2.0 protected resource metadata, as MCP servers publish it.</summary>
public sealed record ProtectedResourceMetadata
{
    /// <summary>The resource identifier (REQUIRED); what clients send as <c>resource</c>.</summary>
    [JsonPropertyName("resource")]
    public required string Resource { get; init; }

    /// <summary>Issuers of the authorization servers (MCP requires at least one).</summary>
    [JsonPropertyName("authorization_servers")]
    public IReadOnlyList<string>? AuthorizationServers { get; init; }

    [JsonPropertyName("jwks_uri")]
    public string? JwksUri { get; init; }

    [JsonPropertyName("scopes_supported")]
    public IReadOnlyList<string>? ScopesSupported { get; init; }

    [JsonPropertyName("bearer_methods_supported")]
    public IReadOnlyList<string>? BearerMethodsSupported { get; init; }

    [JsonPropertyName("resource_signing_alg_values_supported")]
    public IReadOnlyList<string>? ResourceSigningAlgValuesSupported { get; init; }

    [JsonPropertyName("resource_name")]
    public string? ResourceName { get; init; }

    [JsonPropertyName("resource_documentation")]
    public string? ResourceDocumentation { get; init; }

    [JsonPropertyName("dpop_bound_access_tokens_required")]
    public bool? DpopBoundAccessTokensRequired { get; init; }
}
