using System.Text;
using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.Dpop;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;

namespace Ema.Tokens.Tests;

/// <summary>RFC 9449 §4.3, one rule per test: what a token endpoint checks in a DPoP proof before it binds anything to its key.</summary>
public sealed class DpopProofValidatorTests
{
    private const string Endpoint = "https://idp.example.com/idp/token";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
    private readonly SigningKey _key = TestKeys.IdpEc();
    private readonly DpopProofValidator _validator;

    public DpopProofValidatorTests() => _validator = new DpopProofValidator(new InMemoryReplayCache(_time), _time);

    private Task<DpopProofResult> CheckAsync(string proof, string method = "POST", string url = Endpoint, string? accessToken = null) =>
        _validator.ValidateAsync([proof], method, url, accessToken, default).AsTask();

    private string Proof(string? jti = null, string method = "POST", string url = Endpoint, TimeSpan? age = null, SigningKey? key = null, string? alg = null, string? typ = "dpop+jwt", string? jwk = "", IDictionary<string, object?>? claims = null) =>
        DpopProofs.Create(key ?? _key, method, url, _time.GetUtcNow() - (age ?? TimeSpan.Zero), jti, alg, typ, jwk, claims);

    private static void AssertRefused(DpopProofResult result, ErrorDescriptor expected)
    {
        Assert.False(result.IsValid);
        Assert.Null(result.KeyThumbprint);
        Assert.Equal(expected.Id, result.Error!.ErrorId);
        Assert.Equal(ErrorCodes.InvalidDpopProof, result.Error.Code);
    }

    [Fact]
    public async Task Proof_Valid_GivesTheRfc7638ThumbprintOfItsKey()
    {
        var result = await CheckAsync(Proof());
        Assert.True(result.IsValid, result.Error?.Debug);

        // Computed independently, by Microsoft.IdentityModel, from the same public JWK.
        var independent = new Microsoft.IdentityModel.Tokens.JsonWebKey(DpopProofs.PublicJwk(_key));
        Assert.Equal(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(independent.ComputeJwkThumbprint()), result.KeyThumbprint);
    }

    [Fact]
    public async Task Proof_RsaKey_IsAccepted()
    {
        var result = await CheckAsync(Proof(key: TestKeys.IdpRsa()));
        Assert.True(result.IsValid, result.Error?.Debug);
    }

    [Fact]
    public async Task Header_MoreThanOneDpopValue_IsMalformed()
    {
        AssertRefused(await _validator.ValidateAsync([Proof(), Proof()], "POST", Endpoint, null, default), ErrorIds.DpopProofMalformed);
        AssertRefused(await _validator.ValidateAsync([Proof() + "," + Proof()], "POST", Endpoint, null, default), ErrorIds.DpopProofMalformed);
    }

    [Theory]
    [InlineData("JWT")]
    [InlineData(null)]
    public async Task Typ_NotDpopJwt_IsMalformed(string? typ) => AssertRefused(await CheckAsync(Proof(typ: typ)), ErrorIds.DpopProofMalformed);

    [Fact]
    public async Task Typ_InAnotherCase_IsAccepted() => Assert.True((await CheckAsync(Proof(typ: "DPoP+JWT"))).IsValid);

    [Fact]
    public async Task Alg_NoneOrSymmetric_IsRefused()
    {
        var header = "{\"alg\":\"none\",\"typ\":\"dpop+jwt\",\"jwk\":" + DpopProofs.PublicJwk(_key) + "}";
        var payload = "{\"jti\":\"a\",\"htm\":\"POST\",\"htu\":\"" + Endpoint + "\",\"iat\":" + _time.GetUtcNow().ToUnixTimeSeconds() + "}";
        AssertRefused(await CheckAsync(RawJwt.Unsigned(header, payload)), ErrorIds.DpopProofAlgorithmNotAllowed);
        AssertRefused(await CheckAsync(RawJwt.Hmac(header.Replace("none", "HS256", StringComparison.Ordinal), payload, Encoding.UTF8.GetBytes("secret"))), ErrorIds.DpopProofAlgorithmNotAllowed);
    }

    [Fact]
    public async Task Alg_NotFittingTheKey_IsRefused() => AssertRefused(await CheckAsync(Proof(alg: "RS256")), ErrorIds.DpopProofAlgorithmNotAllowed);

    [Fact]
    public async Task Jwk_Missing_IsKeyInvalid() => AssertRefused(await CheckAsync(Proof(jwk: null)), ErrorIds.DpopProofKeyInvalid);

    [Fact]
    public async Task Jwk_WithAPrivateMember_IsKeyInvalid()
    {
        var withPrivate = DpopProofs.PublicJwk(_key).TrimEnd('}') + ",\"d\":\"AAAA\"}";
        AssertRefused(await CheckAsync(Proof(jwk: withPrivate)), ErrorIds.DpopProofKeyInvalid);
    }

    [Fact]
    public async Task Jwk_RepeatingAMember_IsKeyInvalid()
    {
        var repeated = DpopProofs.PublicJwk(_key).TrimEnd('}') + ",\"x\":\"" + _key.PublicKey.Jwk.X + "\"}";
        AssertRefused(await CheckAsync(Proof(jwk: repeated)), ErrorIds.DpopProofKeyInvalid);
    }

    [Fact]
    public async Task Jwk_NotInItsCanonicalEncoding_IsKeyInvalid()
    {
        // RFC 7638 hashes the members as sent: an RSA modulus with a leading zero octet is the same key under another
        // thumbprint, so it is refused rather than normalized (RFC 7518 §6.3.1.1).
        var rsa = TestKeys.IdpRsa();
        var n = Base64UrlStrict.Encode([0, .. Convert.FromBase64String(Pad(rsa.PublicKey.Jwk.N!))]);
        var padded = $"{{\"kty\":\"RSA\",\"n\":\"{n}\",\"e\":\"{rsa.PublicKey.Jwk.E}\"}}";
        AssertRefused(await CheckAsync(Proof(key: rsa, jwk: padded)), ErrorIds.DpopProofKeyInvalid);
    }

    private static string Pad(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
    }

    [Fact]
    public async Task Jwk_NotAKey_IsKeyInvalid() => AssertRefused(await CheckAsync(Proof(jwk: "{\"kty\":\"oct\",\"x\":\"1\"}")), ErrorIds.DpopProofKeyInvalid);

    [Fact]
    public async Task Signature_ByAnotherKeyThanTheJwk_IsRefused() =>
        AssertRefused(await CheckAsync(Proof(key: TestKeys.AttackerEc(), jwk: DpopProofs.PublicJwk(_key))), ErrorIds.DpopProofSignatureInvalid);

    [Theory]
    [InlineData("jti")]
    [InlineData("htm")]
    [InlineData("htu")]
    [InlineData("iat")]
    public async Task Claims_RequiredOneMissing_IsMalformed(string claim) =>
        AssertRefused(await CheckAsync(Proof(claims: new Dictionary<string, object?> { [claim] = null })), ErrorIds.DpopProofMalformed);

    [Theory]
    [InlineData("GET", Endpoint)]
    [InlineData("post", Endpoint)]
    [InlineData("POST", "https://idp.example.com/idp/other")]
    [InlineData("POST", "https://idp.example.com:8443/idp/token")]
    [InlineData("POST", "http://idp.example.com/idp/token")]
    [InlineData("POST", "https://as.example.com/idp/token")]
    [InlineData("POST", "not a url")]
    public async Task Target_OtherMethodOrUri_IsRefused(string method, string url) =>
        AssertRefused(await CheckAsync(Proof(method: method, url: url)), ErrorIds.DpopProofTargetMismatch);

    [Theory]
    [InlineData("https://idp.example.com/idp/token?x=1#f")] // query and fragment are not part of htu (RFC 9449 §4.3 step 9)
    [InlineData("https://IDP.example.com:443/idp/token")] // host case and the default port normalize away
    public async Task Target_SameUriUpToNormalization_IsAccepted(string url) =>
        Assert.True((await CheckAsync(Proof(url: url))).IsValid);

    [Fact]
    public async Task Iat_OlderThanTheWindow_IsStale() => AssertRefused(await CheckAsync(Proof(age: TimeSpan.FromMinutes(6))), ErrorIds.DpopProofStale);

    [Fact]
    public async Task Iat_AheadBeyondTheSkew_IsStale() => AssertRefused(await CheckAsync(Proof(age: TimeSpan.FromMinutes(-2))), ErrorIds.DpopProofStale);

    [Fact]
    public async Task Jti_UsedTwice_IsReplayed()
    {
        var proof = Proof();
        Assert.True((await CheckAsync(proof)).IsValid);
        AssertRefused(await CheckAsync(proof), ErrorIds.DpopProofReplayed);
    }

    [Fact]
    public async Task Jti_OfARefusedProof_IsNotConsumed()
    {
        AssertRefused(await CheckAsync(Proof(jti: "j-1", method: "GET")), ErrorIds.DpopProofTargetMismatch);
        Assert.True((await CheckAsync(Proof(jti: "j-1"))).IsValid);
    }

    [Fact]
    public async Task RequiredKey_AProofByAnotherKey_IsRefusedBeforeItsJtiIsRecorded()
    {
        // A bound token's proofs must be by its key: others are refused without a signature check or a replay record,
        // so a foreign key cannot fill the replay memory.
        var bound = DpopProofValidator.Thumbprint(_key.PublicKey);
        var foreign = await _validator.ValidateAsync([Proof(jti: "j-shared", key: TestKeys.AttackerEc())], "POST", Endpoint, null, bound, default);
        AssertRefused(foreign, ErrorIds.DpopProofKeyInvalid);
        var own = await _validator.ValidateAsync([Proof(jti: "j-shared")], "POST", Endpoint, null, bound, default);
        Assert.True(own.IsValid, own.Error?.Debug);
    }

    [Fact]
    public async Task Ath_WithAnAccessToken_MustBeItsHash()
    {
        AssertRefused(await CheckAsync(Proof(), accessToken: "at-1"), ErrorIds.DpopProofTargetMismatch);
        AssertRefused(await CheckAsync(Proof(claims: new Dictionary<string, object?> { ["ath"] = DpopProofValidator.AccessTokenHash("at-2") }), accessToken: "at-1"), ErrorIds.DpopProofTargetMismatch);
        Assert.True((await CheckAsync(Proof(claims: new Dictionary<string, object?> { ["ath"] = DpopProofValidator.AccessTokenHash("at-1") }), accessToken: "at-1")).IsValid);
    }

    [Fact]
    public async Task AnyInput_NeverThrows()
    {
        var valid = Proof();
        for (var i = 0; i < 2_000; i++)
        {
            // Every position gets a spread of printable characters (deterministic: a failure reproduces).
            var chars = valid.ToCharArray();
            chars[i * 7919 % chars.Length] = (char)(32 + (i * 31 % 95));
            var result = await CheckAsync(new string(chars));
            Assert.True(result.IsValid || result.Error is not null);
        }

        Assert.False((await CheckAsync(string.Empty)).IsValid);
    }
}
