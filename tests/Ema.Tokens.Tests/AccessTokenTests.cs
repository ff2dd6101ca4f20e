using System.Text.Json;
using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.AccessTokens;

namespace Ema.Tokens.Tests;

/// <summary>RFC 9068 access tokens: minted with typ at+jwt and one audience; validated strictly (RFC 9068 §4).</summary>
public sealed class AccessTokenTests
{
    private readonly AccessTokenFixture _f = new();

    private static void AssertRejected(AccessTokenValidationResult result, ErrorDescriptor expected)
    {
        Assert.False(result.IsValid);
        Assert.Equal(expected.Id, result.Error!.ErrorId);
        Assert.Equal(ErrorCodes.InvalidToken, result.Error.Code);
        Assert.Equal(401, result.Error.StatusCode);
    }

    private string Craft(Action<Dictionary<string, object?>> mutate, string typ = "at+jwt")
    {
        var now = _f.Time.GetUtcNow().ToUnixTimeSeconds();
        var claims = new Dictionary<string, object?>
        {
            ["iss"] = AccessTokenFixture.AsIssuer, ["sub"] = "acct-42", ["aud"] = AccessTokenFixture.Resource, ["client_id"] = "agent-7",
            ["jti"] = "at-1", ["iat"] = now, ["exp"] = now + 600, ["scope"] = "tickets.read",
        };
        mutate(claims);
        return RawJwt.Sign($"{{\"alg\":\"ES256\",\"typ\":\"{typ}\",\"kid\":\"{_f.Ring.Current.KeyId}\"}}", JsonSerializer.Serialize(claims), _f.Ring.Current);
    }

    [Fact]
    public async Task AccessToken_Minted_HasAtJwtTypeOneAudienceAndValidates()
    {
        var minted = _f.Minter.Mint(_f.Descriptor());
        var header = JsonDocument.Parse(Convert.FromBase64String(minted.Token.Split('.')[0].PadRight((minted.Token.Split('.')[0].Length + 3) / 4 * 4, '=').Replace('-', '+').Replace('_', '/')));
        Assert.Equal("at+jwt", header.RootElement.GetProperty("typ").GetString());
        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());

        var result = await _f.Validator.ValidateAsync(minted.Token, CancellationToken.None);
        Assert.True(result.IsValid, result.Error?.ToString());
        Assert.Equal("acct-42", result.Value!.Subject);
        Assert.Equal(AccessTokenFixture.Resource, result.Value.Audience);
        Assert.Equal(["tickets.read"], result.Value.Scopes);
        Assert.Equal(minted.JwtId, result.Value.JwtId);
        Assert.Equal(600, minted.ExpiresIn);
    }

    [Fact]
    public async Task AccessToken_ForAnotherResource_ReturnsAudienceInvalid() =>
        AssertRejected(await _f.Validator.ValidateAsync(_f.Minter.Mint(_f.Descriptor("https://mcp.wiki.example/mcp")).Token, CancellationToken.None), ErrorIds.AccessTokenAudienceInvalid);

    [Fact]
    public async Task AccessToken_AudienceArrayOfTwo_ReturnsAudienceInvalid() =>
        AssertRejected(await _f.Validator.ValidateAsync(Craft(c => c["aud"] = new[] { AccessTokenFixture.Resource, "https://mcp.wiki.example/mcp" }), CancellationToken.None), ErrorIds.AccessTokenAudienceInvalid);

    [Fact]
    public async Task AccessToken_AudiencePrefix_ReturnsAudienceInvalid() =>
        AssertRejected(await _f.Validator.ValidateAsync(Craft(c => c["aud"] = "https://mcp.tickets.example"), CancellationToken.None), ErrorIds.AccessTokenAudienceInvalid);

    [Fact]
    public async Task AccessToken_OtherIssuer_ReturnsIssuerInvalid() =>
        AssertRejected(await _f.Validator.ValidateAsync(Craft(c => c["iss"] = "https://as.evil.example"), CancellationToken.None), ErrorIds.AccessTokenIssuerInvalid);

    [Theory]
    [InlineData("JWT")]
    [InlineData("oauth-id-jag+jwt")]
    public async Task AccessToken_WrongTyp_ReturnsTypeInvalid(string typ) =>
        AssertRejected(await _f.Validator.ValidateAsync(Craft(_ => { }, typ), CancellationToken.None), ErrorIds.AccessTokenTypeInvalid);

    [Fact]
    public async Task AccessToken_ApplicationAtJwtSpelling_IsAccepted() =>
        Assert.True((await _f.Validator.ValidateAsync(Craft(_ => { }, "application/at+jwt"), CancellationToken.None)).IsValid);

    [Fact]
    public async Task AccessToken_Expired_ReturnsExpired()
    {
        var token = _f.Minter.Mint(_f.Descriptor()).Token;
        _f.Time.Advance(TimeSpan.FromMinutes(12));
        AssertRejected(await _f.Validator.ValidateAsync(token, CancellationToken.None), ErrorIds.AccessTokenExpired);
    }

    [Fact]
    public async Task AccessToken_IssuedInFuture_ReturnsNotYetValid() =>
        AssertRejected(await _f.Validator.ValidateAsync(Craft(c => { c["iat"] = (long)c["iat"]! + 600; c["exp"] = (long)c["exp"]! + 600; }), CancellationToken.None), ErrorIds.AccessTokenNotYetValid);

    [Theory]
    [InlineData("sub")]
    [InlineData("client_id")]
    [InlineData("jti")]
    [InlineData("iat")]
    [InlineData("exp")]
    public async Task AccessToken_RequiredClaimMissing_ReturnsClaimMissing(string claim) =>
        AssertRejected(await _f.Validator.ValidateAsync(Craft(c => c.Remove(claim)), CancellationToken.None), ErrorIds.AccessTokenClaimMissing);

    [Fact]
    public async Task AccessToken_AlgNone_ReturnsAlgorithmNotAllowed()
    {
        var parts = Craft(_ => { }).Split('.');
        var forged = RawJwt.B64("{\"alg\":\"none\",\"typ\":\"at+jwt\"}") + "." + parts[1] + ".";
        AssertRejected(await _f.Validator.ValidateAsync(forged, CancellationToken.None), ErrorIds.AccessTokenAlgorithmNotAllowed);
    }

    [Fact]
    public async Task AccessToken_SignedByOtherKey_ReturnsSignatureInvalid()
    {
        var parts = Craft(_ => { }).Split('.');
        var input = parts[0] + "." + parts[1];
        var forged = input + "." + RawJwt.B64(TestKeys.AttackerEc().Sign(System.Text.Encoding.ASCII.GetBytes(input)));
        AssertRejected(await _f.Validator.ValidateAsync(forged, CancellationToken.None), ErrorIds.AccessTokenSignatureInvalid);
    }

    [Fact]
    public async Task AccessToken_UnknownKid_ReturnsKeyNotFound()
    {
        var payload = Craft(_ => { }).Split('.')[1];
        var input = RawJwt.B64("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"nope\"}") + "." + payload;
        var token = input + "." + RawJwt.B64(_f.Ring.Current.Sign(System.Text.Encoding.ASCII.GetBytes(input)));
        AssertRejected(await _f.Validator.ValidateAsync(token, CancellationToken.None), ErrorIds.AccessTokenKeyNotFound);
    }

    [Fact]
    public async Task AccessToken_IdJagPresentedToResourceServer_IsRejected()
    {
        // MCP "Token Handling": a resource server never accepts an ID-JAG (or any non-access token).
        var s = new IdJagScenario();
        AssertRejected(await _f.Validator.ValidateAsync(s.Token(), CancellationToken.None), ErrorIds.AccessTokenTypeInvalid);
    }

    [Fact]
    public async Task AccessToken_UnsignedWithHugeScope_IsRejectedBeforeScopeWork()
    {
        // Review finding: thousands of distinct scopes in an unsigned token cost O(n^2) before the signature check.
        var scope = string.Join(' ', Enumerable.Range(0, 1500).Select(i => "s" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var payload = Craft(c => c["scope"] = scope).Split('.')[1];
        var forged = RawJwt.B64("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"" + _f.Ring.Current.KeyId + "\"}") + "." + payload + "." + RawJwt.B64(new byte[64]);
        AssertRejected(await _f.Validator.ValidateAsync(forged, CancellationToken.None), ErrorIds.AccessTokenSignatureInvalid);
    }

    [Fact]
    public void ScopeList_MoreThanMaxScopes_IsMalformedAndDuplicatesAreDropped()
    {
        Assert.False(ScopeList.TryParse(string.Join(' ', Enumerable.Range(0, ScopeList.MaxScopes + 1).Select(i => "s" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))), out _));
        Assert.True(ScopeList.TryParse("a b a  b c", out var scopes));
        Assert.Equal(["a", "b", "c"], scopes);
    }
}
