using System.Text;
using System.Text.Json;

namespace Ema.Protocol.Tests;

/// <summary>Request records, response documents and metadata on the wire.</summary>
public sealed class MessagesTests
{
    private static FormParameters Form(string body) => StrictFormParser.Parse(Encoding.UTF8.GetBytes(body)).Parameters!;

    [Fact]
    public void TokenRequest_MissingGrantType_IsInvalidRequestNamingIt()
    {
        var result = TokenRequest.FromForm(Form("client_id=a"));
        Assert.Null(result.Request);
        Assert.Equal(ErrorIds.MissingParameter.Id, result.Error!.ErrorId);
        Assert.Contains("grant_type", result.Error.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("subject_token_type=x&requested_token_type=y", "subject_token")]
    [InlineData("subject_token=t&requested_token_type=y", "subject_token_type")]
    [InlineData("subject_token=t&subject_token_type=x", "requested_token_type")]
    public void TokenExchangeRequest_MissingRequiredParameter_IsInvalidRequest(string body, string missing)
    {
        var result = TokenExchangeRequest.FromForm(Form(body));
        Assert.Equal(ErrorCodes.InvalidRequest, result.Error!.Code);
        Assert.Contains(missing, result.Error.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void TokenExchangeRequest_ToFormPairsThenParse_RoundTrips()
    {
        var request = new TokenExchangeRequest
        {
            RequestedTokenType = TokenTypes.IdJag,
            SubjectToken = "eyJ.x.y",
            SubjectTokenType = TokenTypes.IdToken,
            Audiences = ["https://as.example/"],
            Resources = ["https://mcp.example/mcp"],
            Scope = "a b",
        };

        var form = Form(StrictFormParser.Encode(request.ToFormPairs()));
        var parsed = TokenExchangeRequest.FromForm(form).Request!;

        Assert.Equal(GrantTypes.TokenExchange, form[OAuthParameters.GrantType]);
        Assert.Equal(request.Audiences, parsed.Audiences);
        Assert.Equal(request.Resources, parsed.Resources);
        Assert.Equal("a b", parsed.Scope);
    }

    [Fact]
    public void JwtBearerRequest_MissingAssertion_IsInvalidRequest()
    {
        var result = JwtBearerRequest.FromForm(Form("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"));
        Assert.Equal(ErrorCodes.InvalidRequest, result.Error!.Code);
        Assert.Contains("assertion", result.Error.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void TokenExchangeResponse_SerializesWithSpecNamesAndNA()
    {
        var json = JsonSerializer.Serialize(new TokenExchangeResponse { AccessToken = "jag", IssuedTokenType = TokenTypes.IdJag, ExpiresIn = 300, Scope = "a" }, EmaJsonContext.Default.TokenExchangeResponse);
        Assert.Equal("{\"access_token\":\"jag\",\"issued_token_type\":\"urn:ietf:params:oauth:token-type:id-jag\",\"token_type\":\"N_A\",\"expires_in\":300,\"scope\":\"a\"}", json);
    }

    [Fact]
    public void OAuthError_Response_CarriesCodeDescriptionIdAndNoDebug()
    {
        var error = OAuthError.From(ErrorIds.IdJagReplayed, "jti=abc secret-ish detail");
        var response = error.ToResponse(new Uri("https://docs.ema.example/errors"));
        var json = JsonSerializer.Serialize(response, EmaJsonContext.Default.OAuthErrorResponse);

        Assert.Equal("invalid_grant", response.Error);
        Assert.Equal("https://docs.ema.example/errors#ema2125", response.ErrorUri);
        Assert.Equal("EMA2125", response.EmaErrorId);
        Assert.DoesNotContain("secret-ish", json, StringComparison.Ordinal);
        Assert.DoesNotContain("max_age", json, StringComparison.Ordinal);
    }

    [Fact]
    public void OAuthError_StepUp_CarriesMaxAgeAndAcrValues()
    {
        var response = OAuthError.InsufficientUserAuthentication("Sign in again with MFA.", 300, "urn:ema:acr:mfa").ToResponse();
        var json = JsonSerializer.Serialize(response, EmaJsonContext.Default.OAuthErrorResponse);
        Assert.Contains("\"error\":\"insufficient_user_authentication\"", json, StringComparison.Ordinal);
        Assert.Contains("\"max_age\":300", json, StringComparison.Ordinal);
        Assert.Contains("\"acr_values\":\"urn:ema:acr:mfa\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void OAuthError_InvalidClient_Is401AndInsufficientScopeIs403()
    {
        Assert.Equal(401, OAuthError.InvalidClient("x").StatusCode);
        Assert.Equal(401, OAuthError.InvalidToken("x").StatusCode);
        Assert.Equal(403, OAuthError.InsufficientScope("tickets.write").StatusCode);
        Assert.Equal("tickets.write", OAuthError.InsufficientScope("tickets.write").Scope);
    }

    [Fact]
    public void AuthorizationServerMetadata_SerializesIdJagProfileMembers()
    {
        var json = JsonSerializer.Serialize(new AuthorizationServerMetadata
        {
            Issuer = "https://as.example",
            TokenEndpoint = "https://as.example/token",
            GrantTypesSupported = [GrantTypes.JwtBearer],
            AuthorizationGrantProfilesSupported = [GrantProfiles.IdJag],
        }, EmaJsonContext.Default.AuthorizationServerMetadata);

        Assert.Contains("\"grant_types_supported\":[\"urn:ietf:params:oauth:grant-type:jwt-bearer\"]", json, StringComparison.Ordinal);
        Assert.Contains("\"authorization_grant_profiles_supported\":[\"urn:ietf:params:oauth:grant-profile:id-jag\"]", json, StringComparison.Ordinal);
        Assert.DoesNotContain("null", json, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenIdProviderMetadata_IncludesBaseAndOidcMembers()
    {
        var json = JsonSerializer.Serialize(new OpenIdProviderMetadata
        {
            Issuer = "https://idp.example",
            UserInfoEndpoint = "https://idp.example/userinfo",
            IdentityChainingRequestedTokenTypesSupported = [TokenTypes.IdJag],
        }, EmaJsonContext.Default.OpenIdProviderMetadata);
        Assert.Contains("\"userinfo_endpoint\"", json, StringComparison.Ordinal);
        Assert.Contains("\"identity_chaining_requested_token_types_supported\":[\"urn:ietf:params:oauth:token-type:id-jag\"]", json, StringComparison.Ordinal);
    }

    [Fact]
    public void ProtectedResourceMetadata_RoundTripsRfc9728Names()
    {
        const string json = "{\"resource\":\"https://mcp.example/mcp\",\"authorization_servers\":[\"https://as.example\"],\"scopes_supported\":[\"a\"],\"bearer_methods_supported\":[\"header\"],\"resource_name\":\"Tickets\"}";
        var prm = JsonSerializer.Deserialize(json, EmaJsonContext.Default.ProtectedResourceMetadata)!;
        Assert.Equal("https://mcp.example/mcp", prm.Resource);
        Assert.Equal(json, JsonSerializer.Serialize(prm, EmaJsonContext.Default.ProtectedResourceMetadata));
    }
}
