using System.Text.Json.Serialization;

namespace Ema.Protocol;

/// <summary>
/// Source-generated JSON metadata for every wire document (no reflection at run time; null members omitted).
/// </summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = false,
    AllowTrailingCommas = false,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(TokenExchangeResponse))]
[JsonSerializable(typeof(AccessTokenResponse))]
[JsonSerializable(typeof(OAuthErrorResponse))]
[JsonSerializable(typeof(AuthorizationServerMetadata))]
[JsonSerializable(typeof(OpenIdProviderMetadata))]
[JsonSerializable(typeof(ProtectedResourceMetadata))]
[JsonSerializable(typeof(JsonWebKeySetDocument))]
[JsonSerializable(typeof(JsonWebKeyDocument))]
[JsonSerializable(typeof(CatalogResponse))]
[JsonSerializable(typeof(DeviceAuthorizationResponse))]
[JsonSerializable(typeof(UserInfoResponse))]
public sealed partial class EmaJsonContext : JsonSerializerContext;
