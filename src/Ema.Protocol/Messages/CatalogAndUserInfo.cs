using System.Text.Json.Serialization;

namespace Ema.Protocol;

/// <summary>
/// Ema extension (decision 20): <c>GET /ema/v1/catalog</c> — the MCP servers the IdP's policy lets the signed-in user
/// reach through the calling client.
/// </summary>
public sealed record CatalogResponse
{
    [JsonPropertyName("servers")]
    public required IReadOnlyList<CatalogServer> Servers { get; init; }
}

/// <summary>One entitled MCP server.</summary>
public sealed record CatalogServer
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>The MCP server's RFC 9728 resource identifier.</summary>
    [JsonPropertyName("resource")]
    public required string Resource { get; init; }

    /// <summary>Issuer of its authorization server (the token-exchange <c>audience</c>).</summary>
    [JsonPropertyName("authorization_server")]
    public required string AuthorizationServer { get; init; }

    /// <summary>Scopes the user may obtain there through this client.</summary>
    [JsonPropertyName("scopes")]
    public required IReadOnlyList<string> Scopes { get; init; }
}

/// <summary>OIDC Core §5.3.2 UserInfo response (the claims Ema releases).</summary>
public sealed record UserInfoResponse
{
    [JsonPropertyName("sub")]
    public required string Subject { get; init; }

    [JsonPropertyName("name")]
    public string? Name { get; init; }

    [JsonPropertyName("preferred_username")]
    public string? PreferredUsername { get; init; }

    [JsonPropertyName("email")]
    public string? Email { get; init; }
}
