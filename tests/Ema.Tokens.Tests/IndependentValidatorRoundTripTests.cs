using System.Security.Claims;
using System.Security.Cryptography;
using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.IdJag;
using Ema.Tokens.IdTokens;
using Ema.Tokens.Keys;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using MsAlgorithms = Microsoft.IdentityModel.Tokens.SecurityAlgorithms;

namespace Ema.Tokens.Tests;

/// <summary>
/// Round trips with an independent implementation, Microsoft.IdentityModel's <see cref="JsonWebTokenHandler"/>
/// configured by hand: what Ema mints it accepts, and what it mints Ema accepts.
/// </summary>
public sealed class IndependentValidatorRoundTripTests
{
    // JsonWebTokenHandler checks lifetimes against the real clock, so Ema mints at the real current time here.
    private readonly FakeTimeProvider _time = new(TimeProvider.System.GetUtcNow());

    private static JsonWebKeySet MsJwks(SigningKeyRing ring) =>
        new(System.Text.Json.JsonSerializer.Serialize(ring.Jwks, EmaJsonContext.Default.JsonWebKeySetDocument));

    private static TokenValidationParameters Parameters(SigningKeyRing ring, string issuer, string audience, string type) => new()
    {
        ValidIssuer = issuer,
        ValidAudience = audience,
        ValidTypes = [type],
        IssuerSigningKeys = MsJwks(ring).GetSigningKeys(),
        ValidAlgorithms = [MsAlgorithms.EcdsaSha256],
        ClockSkew = TimeSpan.FromSeconds(60),
    };

    [Fact]
    public async Task IdJag_MintedByEma_ValidatesWithJsonWebTokenHandler()
    {
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions(), _time);
        var minted = new IdJagMinter(ring, _time).Mint(new IdJagDescriptor
        {
            Issuer = "https://idp.acme.example", Subject = "u-1", Audience = "https://as.tickets.example", ClientId = "agent-7",
            Resources = ["https://mcp.tickets.example/mcp"], Scope = "tickets.read", Amr = ["pwd", "mfa"], AuthTime = _time.GetUtcNow(),
        });

        var result = await new JsonWebTokenHandler().ValidateTokenAsync(minted.Token, Parameters(ring, "https://idp.acme.example", "https://as.tickets.example", JwtTypes.IdJag));

        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal("agent-7", result.Claims["client_id"]);
        Assert.Equal("https://mcp.tickets.example/mcp", result.Claims["resource"]);
        Assert.Equal(minted.JwtId, result.Claims["jti"]);
        Assert.Equal(ring.Current.KeyId, ((JsonWebToken)result.SecurityToken).Kid);
    }

    [Fact]
    public async Task AccessToken_MintedByEma_ValidatesWithJsonWebTokenHandler()
    {
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions(), _time);
        var minted = new AccessTokenMinter(ring, _time).Mint(new AccessTokenDescriptor
        {
            Issuer = "https://as.tickets.example", Subject = "acct-1", Audience = "https://mcp.tickets.example/mcp", ClientId = "agent-7", Scope = "tickets.read tickets.write",
        });

        var result = await new JsonWebTokenHandler().ValidateTokenAsync(minted.Token, Parameters(ring, "https://as.tickets.example", "https://mcp.tickets.example/mcp", JwtTypes.AccessToken));

        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal("tickets.read tickets.write", result.Claims["scope"]);
    }

    [Fact]
    public async Task IdToken_MintedByEma_ValidatesWithJsonWebTokenHandler()
    {
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions(), _time);
        var minted = new IdTokenMinter(ring, _time).Mint(new IdTokenDescriptor
        {
            Issuer = "https://idp.acme.example", Subject = "u-1", Audience = "vscode", Nonce = "n-0S6_WzA2Mj", AuthTime = _time.GetUtcNow(),
            Acr = "urn:ema:acr:mfa", Amr = ["pwd", "otp"], SessionId = "sid-1", Email = "ada@acme.example",
        });

        var result = await new JsonWebTokenHandler().ValidateTokenAsync(minted.Token, Parameters(ring, "https://idp.acme.example", "vscode", "JWT"));

        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal("n-0S6_WzA2Mj", result.Claims["nonce"]);
        Assert.Equal("sid-1", result.Claims["sid"]);
        Assert.Equal("urn:ema:acr:mfa", result.Claims["acr"]);
    }

    [Fact]
    public void Kid_IsTheRfc7638ThumbprintIdentityModelComputes()
    {
        using var key = TestKeys.IdpEc();
        var msKey = new Microsoft.IdentityModel.Tokens.JsonWebKey(System.Text.Json.JsonSerializer.Serialize(key.PublicKey.Jwk, EmaJsonContext.Default.JsonWebKeyDocument));
        Assert.Equal(Base64UrlEncoder.Encode(msKey.ComputeJwkThumbprint()), key.KeyId);

        using var rsa = TestKeys.IdpRsa();
        var msRsa = new Microsoft.IdentityModel.Tokens.JsonWebKey(System.Text.Json.JsonSerializer.Serialize(rsa.PublicKey.Jwk, EmaJsonContext.Default.JsonWebKeyDocument));
        Assert.Equal(Base64UrlEncoder.Encode(msRsa.ComputeJwkThumbprint()), rsa.KeyId);
    }

    [Theory]
    [InlineData(MsAlgorithms.EcdsaSha256)]
    [InlineData(MsAlgorithms.RsaSha256)]
    [InlineData(MsAlgorithms.RsaSsaPssSha256)]
    public async Task IdJag_MintedByJsonWebTokenHandler_ValidatesWithEma(string algorithm)
    {
        var s = new IdJagScenario();
        SecurityKey msKey;
        if (algorithm == MsAlgorithms.EcdsaSha256)
        {
            var ec = ECDsa.Create();
            ec.ImportPkcs8PrivateKey(Convert.FromBase64String(TestKeys.IdpEcPkcs8), out _);
            msKey = new ECDsaSecurityKey(ec) { KeyId = s.IdpKey.KeyId };
        }
        else
        {
            var rsa = RSA.Create();
            rsa.ImportPkcs8PrivateKey(Convert.FromBase64String(TestKeys.IdpRsaPkcs8), out _);
            msKey = new RsaSecurityKey(rsa) { KeyId = "rsa-1" };
        }

        var now = s.Time.GetUtcNow().UtcDateTime;
        var token = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = IdJagScenario.IdpIssuer,
            Audience = IdJagScenario.AsIssuer,
            TokenType = JwtTypes.IdJag,
            IssuedAt = now,
            Expires = now.AddMinutes(5),
            SigningCredentials = new SigningCredentials(msKey, algorithm),
            Subject = new ClaimsIdentity([new Claim("sub", "u-77")]),
            Claims = new Dictionary<string, object>
            {
                ["client_id"] = IdJagScenario.ClientId,
                ["jti"] = "ms-" + algorithm,
                ["resource"] = IdJagScenario.Resource,
                ["scope"] = "tickets.read",
            },
        });

        var result = await s.ValidateAsync(token);

        Assert.True(result.IsValid, result.Error?.ToString() + " " + result.Error?.Debug);
        Assert.Equal("u-77", result.Value!.Subject);
        Assert.Equal(["tickets.read"], result.Value.Scopes);
    }

    [Fact]
    public async Task AccessToken_MintedByJsonWebTokenHandler_ValidatesWithEma()
    {
        var f = new AccessTokenFixture();
        var ec = ECDsa.Create();
        ec.ImportPkcs8PrivateKey(f.Ring.Current.ExportPkcs8(), out _);
        var now = f.Time.GetUtcNow().UtcDateTime;
        var token = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = AccessTokenFixture.AsIssuer,
            Audience = AccessTokenFixture.Resource,
            TokenType = JwtTypes.AccessToken,
            IssuedAt = now,
            Expires = now.AddMinutes(10),
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(ec) { KeyId = f.Ring.Current.KeyId }, MsAlgorithms.EcdsaSha256),
            Claims = new Dictionary<string, object> { ["sub"] = "acct-9", ["client_id"] = "agent-7", ["jti"] = "at-ms", ["scope"] = "tickets.read" },
        });

        var result = await f.Validator.ValidateAsync(token, CancellationToken.None);

        Assert.True(result.IsValid, result.Error?.ToString() + " " + result.Error?.Debug);
        Assert.Equal("acct-9", result.Value!.Subject);
    }
}
