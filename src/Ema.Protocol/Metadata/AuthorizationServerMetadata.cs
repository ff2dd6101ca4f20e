using System.Text.Json.Serialization;

namespace Ema.Protocol;

/// <summary>
/// RFC 8414 §2 authorization server metadata, with the ID-JAG draft §7 members. Also the base of
/// <see cref="OpenIdProviderMetadata"/> (OIDC Discovery §3), which shares the same member names.
/// </summary>
public record AuthorizationServerMetadata
{
    [JsonPropertyName("issuer")]
    public required string Issuer { get; init; }

    [JsonPropertyName("authorization_endpoint")]
    public string? AuthorizationEndpoint { get; init; }

    [JsonPropertyName("token_endpoint")]
    public string? TokenEndpoint { get; init; }

    [JsonPropertyName("jwks_uri")]
    public string? JwksUri { get; init; }

    [JsonPropertyName("registration_endpoint")]
    public string? RegistrationEndpoint { get; init; }

    [JsonPropertyName("scopes_supported")]
    public IReadOnlyList<string>? ScopesSupported { get; init; }

    [JsonPropertyName("response_types_supported")]
    public IReadOnlyList<string>? ResponseTypesSupported { get; init; }

    [JsonPropertyName("grant_types_supported")]
    public IReadOnlyList<string>? GrantTypesSupported { get; init; }

    [JsonPropertyName("token_endpoint_auth_methods_supported")]
    public IReadOnlyList<string>? TokenEndpointAuthMethodsSupported { get; init; }

    [JsonPropertyName("token_endpoint_auth_signing_alg_values_supported")]
    public IReadOnlyList<string>? TokenEndpointAuthSigningAlgValuesSupported { get; init; }

    [JsonPropertyName("code_challenge_methods_supported")]
    public IReadOnlyList<string>? CodeChallengeMethodsSupported { get; init; }

    /// <summary>RFC 7009 §2; RFC 8414 §2.</summary>
    [JsonPropertyName("revocation_endpoint")]
    public string? RevocationEndpoint { get; init; }

    [JsonPropertyName("revocation_endpoint_auth_methods_supported")]
    public IReadOnlyList<string>? RevocationEndpointAuthMethodsSupported { get; init; }

    [JsonPropertyName("introspection_endpoint")]
    public string? IntrospectionEndpoint { get; init; }

    /// <summary>RFC 8628 §4.</summary>
    [JsonPropertyName("device_authorization_endpoint")]
    public string? DeviceAuthorizationEndpoint { get; init; }

    /// <summary>RFC 9449 §5.1: the algorithms this server accepts for DPoP proofs at its token endpoint.</summary>
    [JsonPropertyName("dpop_signing_alg_values_supported")]
    public IReadOnlyList<string>? DpopSigningAlgValuesSupported { get; init; }

    /// <summary>ID-JAG draft §7.2: contains <see cref="GrantProfiles.IdJag"/> when the jwt-bearer ID-JAG profile is implemented.</summary>
    [JsonPropertyName("authorization_grant_profiles_supported")]
    public IReadOnlyList<string>? AuthorizationGrantProfilesSupported { get; init; }

    /// <summary>ID-JAG draft §7.1 (identity chaining): token types an IdP issues by token exchange.</summary>
    [JsonPropertyName("identity_chaining_requested_token_types_supported")]
    public IReadOnlyList<string>? IdentityChainingRequestedTokenTypesSupported { get; init; }

    /// <summary>MCP client registration: whether Client ID Metadata Document URLs are accepted.</summary>
    [JsonPropertyName("client_id_metadata_document_supported")]
    public bool? ClientIdMetadataDocumentSupported { get; init; }

    /// <summary>RFC 9207 §3.</summary>
    [JsonPropertyName("authorization_response_iss_parameter_supported")]
    public bool? AuthorizationResponseIssParameterSupported { get; init; }

    [JsonPropertyName("service_documentation")]
    public string? ServiceDocumentation { get; init; }
}

/// <summary>OpenID Connect Discovery 1.0 §3 provider metadata.</summary>
public sealed record OpenIdProviderMetadata : AuthorizationServerMetadata
{
    [JsonPropertyName("userinfo_endpoint")]
    public string? UserInfoEndpoint { get; init; }

    [JsonPropertyName("end_session_endpoint")]
    public string? EndSessionEndpoint { get; init; }

    [JsonPropertyName("subject_types_supported")]
    public IReadOnlyList<string>? SubjectTypesSupported { get; init; }

    [JsonPropertyName("id_token_signing_alg_values_supported")]
    public IReadOnlyList<string>? IdTokenSigningAlgValuesSupported { get; init; }

    [JsonPropertyName("claims_supported")]
    public IReadOnlyList<string>? ClaimsSupported { get; init; }

    [JsonPropertyName("acr_values_supported")]
    public IReadOnlyList<string>? AcrValuesSupported { get; init; }

    [JsonPropertyName("prompt_values_supported")]
    public IReadOnlyList<string>? PromptValuesSupported { get; init; }
}
