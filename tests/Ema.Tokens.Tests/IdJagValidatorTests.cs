using System.Text;
using System.Text.Json;
using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.Issuers;
using Ema.Tokens.Keys;
using static Ema.Tokens.Tests.IdJagScenario;

namespace Ema.Tokens.Tests;

/// <summary>
/// One test per validation rule of spec-requirements §2(c) and decisions 2–7, positive and negative. Each hostile
/// case breaks exactly one thing in an otherwise valid ID-JAG and checks the stable error id.
/// </summary>
public sealed class IdJagValidatorTests
{
    private readonly IdJagScenario _s = new();

    // ----- Accepted -----

    [Fact]
    public async Task IdJag_Valid_IsAcceptedWithBoundResourceAndScopes()
    {
        var result = await _s.ValidateAsync(_s.Token());

        Assert.True(result.IsValid, result.Error?.ToString());
        var v = result.Value!;
        Assert.Equal(IdpIssuer, v.Issuer.Issuer);
        Assert.Equal("u-1001", v.Subject);
        Assert.Equal(ClientId, v.ClientId);
        Assert.Equal(Resource, v.Resource);
        Assert.Equal(["tickets.read", "tickets.write"], v.Scopes);
        Assert.Equal(["pwd", "mfa"], v.Amr!);
        Assert.Equal(_s.IdpKey.KeyId, v.KeyId);
    }

    [Theory]
    [InlineData("oauth-id-jag+jwt")]
    [InlineData("application/oauth-id-jag+jwt")]
    [InlineData("OAUTH-ID-JAG+JWT")]
    [InlineData("Application/OAuth-Id-Jag+JWT")]
    public async Task Typ_IdJagSpellings_AreAccepted(string typ)
    {
        var result = await _s.ValidateAsync(_s.Token(header: _s.Header(typ: typ)));
        Assert.True(result.IsValid, result.Error?.ToString());
    }

    [Fact]
    public async Task Alg_RS256FromTrustedIssuer_IsAccepted()
    {
        var result = await _s.ValidateAsync(_s.Token(header: _s.Header(alg: "RS256"), key: _s.IdpRsaKey));
        Assert.True(result.IsValid, result.Error?.ToString());
    }

    [Fact]
    public async Task Alg_PS256FromTrustedIssuer_IsAccepted()
    {
        var result = await _s.ValidateAsync(_s.Token(header: _s.Header(alg: "PS256"), key: _s.IdpPssKey));
        Assert.True(result.IsValid, result.Error?.ToString());
    }

    [Fact]
    public async Task Aud_ArrayOfExactlyOneIssuer_IsAccepted()
    {
        var result = await _s.ValidateAsync(_s.Token(c => c["aud"] = new[] { AsIssuer }));
        Assert.True(result.IsValid, result.Error?.ToString());
    }

    [Fact]
    public async Task Exp_PassedButWithinSkew_IsAccepted()
    {
        var token = _s.Token();
        _s.Time.Advance(TimeSpan.FromSeconds(300 + 59));
        Assert.True((await _s.ValidateAsync(token)).IsValid);
    }

    [Fact]
    public async Task Iat_SlightlyInFutureWithinSkew_IsAccepted()
    {
        var result = await _s.ValidateAsync(_s.Token(c => { c["iat"] = _s.Now + 30; c["exp"] = _s.Now + 330; }));
        Assert.True(result.IsValid, result.Error?.ToString());
    }

    [Fact]
    public async Task Kid_MissingWithSingleCompatibleKey_IsAccepted()
    {
        var result = await _s.ValidateAsync(_s.Token(header: _s.Header(kid: "")));
        Assert.True(result.IsValid, result.Error?.ToString());
    }

    [Fact]
    public async Task Scope_Absent_GivesNoScopes()
    {
        var result = await _s.ValidateAsync(_s.Token(c => c.Remove("scope")));
        Assert.True(result.IsValid);
        Assert.Empty(result.Value!.Scopes);
    }

    [Fact]
    public async Task UnknownExtraClaims_AreIgnored()
    {
        var result = await _s.ValidateAsync(_s.Token(c => { c["email"] = "ada@acme.example"; c["act"] = new Dictionary<string, string> { ["sub"] = "agent" }; }));
        Assert.True(result.IsValid, result.Error?.ToString());
        Assert.Equal("ada@acme.example", result.Value!.Email);
    }

    // ----- typ (ID-JAG §3.1, §4.4.1; RFC 8725 §3.11; decision 3) -----

    [Fact]
    public async Task Typ_Missing_ReturnsIdJagTypeInvalid() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(header: _s.Header(typ: null))), ErrorIds.IdJagTypeInvalid);

    [Theory]
    [InlineData("JWT")]
    [InlineData("at+jwt")]
    [InlineData("oauth-id-jag")]
    [InlineData("oauth-id-jag+jwt ")]
    [InlineData("application/jwt")]
    public async Task Typ_Wrong_ReturnsIdJagTypeInvalid(string typ) =>
        AssertRejected(await _s.ValidateAsync(_s.Token(header: _s.Header(typ: typ))), ErrorIds.IdJagTypeInvalid);

    [Fact]
    public async Task Typ_IdTokenPresentedAsIdJag_ReturnsIdJagTypeInvalid()
    {
        var ring = TestKeys.RingOf(_s.IdpKey, _s.Time);
        var idToken = new IdTokens.IdTokenMinter(ring, _s.Time).Mint(new IdTokens.IdTokenDescriptor { Issuer = IdpIssuer, Subject = "u-1001", Audience = AsIssuer });
        AssertRejected(await _s.ValidateAsync(idToken.Token), ErrorIds.IdJagTypeInvalid);
    }

    // ----- alg (EMA §7.4.1, RFC 8725 §3.1, decision 4) -----

    [Fact]
    public async Task Alg_None_ReturnsAlgorithmNotAllowed() =>
        AssertRejected(await _s.ValidateAsync(RawJwt.Unsigned(_s.Header(alg: "none", kid: ""), Json(_s.ValidClaims()))), ErrorIds.IdJagAlgorithmNotAllowed);

    [Fact]
    public async Task Alg_NoneWithCopiedSignature_ReturnsAlgorithmNotAllowed()
    {
        var valid = _s.Token().Split('.');
        var forged = RawJwt.B64(_s.Header(alg: "none")) + "." + valid[1] + "." + valid[2];
        AssertRejected(await _s.ValidateAsync(forged), ErrorIds.IdJagAlgorithmNotAllowed);
    }

    [Fact]
    public async Task Alg_HS256SignedWithIssuerPublicKey_ReturnsAlgorithmNotAllowed()
    {
        // The classic key-confusion attack: HMAC keyed with the bytes of the published public key.
        var publicKeyBytes = Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(_s.IdpKey.PublicKey.Jwk));
        var token = RawJwt.Hmac(_s.Header(alg: "HS256"), Json(_s.ValidClaims()), publicKeyBytes);
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagAlgorithmNotAllowed);
    }

    [Fact]
    public async Task Alg_Missing_ReturnsAlgorithmNotAllowed()
    {
        var token = RawJwt.Sign($"{{\"typ\":\"oauth-id-jag+jwt\",\"kid\":\"{_s.IdpKey.KeyId}\"}}", Json(_s.ValidClaims()), _s.IdpKey);
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagAlgorithmNotAllowed);
    }

    [Fact]
    public async Task Alg_LowercaseSpelling_ReturnsAlgorithmNotAllowed() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(header: _s.Header(alg: "es256"))), ErrorIds.IdJagAlgorithmNotAllowed);

    [Fact]
    public async Task Alg_NotAllowedForThisIssuer_ReturnsAlgorithmNotAllowed()
    {
        var s = new IdJagScenario(i => i with { AllowedAlgorithms = [SecurityAlgorithms.EcdsaSha256] });
        AssertRejected(await s.ValidateAsync(s.Token(header: s.Header(alg: "RS256"), key: s.IdpRsaKey)), ErrorIds.IdJagAlgorithmNotAllowed);
    }

    [Fact]
    public async Task Alg_HeaderSaysRS256ButKeyIsEc_ReturnsKeyAlgorithmMismatch() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(header: _s.Header(alg: "RS256", kid: _s.IdpKey.KeyId))), ErrorIds.IdJagKeyAlgorithmMismatch);

    [Fact]
    public async Task Alg_ES384NotAllowedByDefault_ReturnsAlgorithmNotAllowed() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(header: _s.Header(alg: "ES384"))), ErrorIds.IdJagAlgorithmNotAllowed);

    // ----- keys and signature (RFC 7523 §3 item 9; RFC 8725 §3.10) -----

    [Fact]
    public async Task Kid_Unknown_ReturnsKeyNotFound() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(header: _s.Header(kid: "no-such-key"))), ErrorIds.IdJagKeyNotFound);

    [Fact]
    public async Task Key_OfAnotherTrustedIssuer_ReturnsKeyNotFound()
    {
        // Signed by the other IdP's key and naming its kid, but claiming to come from the first IdP.
        var token = _s.Token(header: _s.Header(kid: _s.OtherIdpKey.KeyId), key: _s.OtherIdpKey);
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagKeyNotFound);
    }

    [Fact]
    public async Task Key_AttackerKeyWithTrustedKid_ReturnsSignatureInvalid() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(key: _s.AttackerKey)), ErrorIds.IdJagSignatureInvalid);

    [Fact]
    public async Task Header_JwkEmbeddingAttackerKey_IsIgnored()
    {
        var jwk = System.Text.Json.JsonSerializer.Serialize(_s.AttackerKey.PublicKey.Jwk, EmaJsonContext.Default.JsonWebKeyDocument);
        var token = _s.Token(header: _s.Header(kid: _s.AttackerKey.KeyId, extra: $"\"jwk\":{jwk}"), key: _s.AttackerKey);
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagKeyNotFound);
    }

    [Fact]
    public async Task Header_JkuPointingElsewhere_IsIgnored()
    {
        var token = _s.Token(header: _s.Header(extra: "\"jku\":\"https://attacker.example/jwks\""), key: _s.AttackerKey);
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagSignatureInvalid);
    }

    [Fact]
    public async Task Header_X5uPointingElsewhere_IsIgnored()
    {
        var token = _s.Token(header: _s.Header(extra: "\"x5u\":\"https://attacker.example/cert.pem\""), key: _s.AttackerKey);
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagSignatureInvalid);
    }

    [Fact]
    public async Task Signature_TamperedPayload_ReturnsSignatureInvalid()
    {
        var parts = _s.Token().Split('.');
        var claims = _s.ValidClaims();
        claims["sub"] = "admin";
        var tampered = parts[0] + "." + RawJwt.B64(Json(claims)) + "." + parts[2];
        AssertRejected(await _s.ValidateAsync(tampered), ErrorIds.IdJagSignatureInvalid);
    }

    [Fact]
    public async Task Signature_Truncated_ReturnsSignatureInvalid()
    {
        var parts = _s.Token().Split('.');
        var signature = Convert.FromBase64String(parts[2].Replace('-', '+').Replace('_', '/') + "==");
        var truncated = parts[0] + "." + parts[1] + "." + RawJwt.B64(signature[..^1]);
        AssertRejected(await _s.ValidateAsync(truncated), ErrorIds.IdJagSignatureInvalid);
    }

    [Fact]
    public async Task Signature_DerEncodedEcdsa_ReturnsSignatureInvalid()
    {
        // RFC 7518 §3.4 requires R||S; a DER signature over the right input must still be refused.
        var header = _s.Header();
        var input = RawJwt.B64(header) + "." + RawJwt.B64(Json(_s.ValidClaims()));
        using var ec = System.Security.Cryptography.ECDsa.Create();
        ec.ImportPkcs8PrivateKey(Convert.FromBase64String(TestKeys.IdpEcPkcs8), out _);
        var der = ec.SignData(Encoding.ASCII.GetBytes(input), System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence);
        AssertRejected(await _s.ValidateAsync(input + "." + RawJwt.B64(der)), ErrorIds.IdJagSignatureInvalid);
    }

    [Fact]
    public async Task Signature_Empty_ReturnsSignatureInvalid()
    {
        var parts = _s.Token().Split('.');
        AssertRejected(await _s.ValidateAsync(parts[0] + "." + parts[1] + "."), ErrorIds.IdJagSignatureInvalid);
    }

    [Fact]
    public async Task Kid_MissingWithSeveralCompatibleKeys_ReturnsKeyNotFound()
    {
        var s = new IdJagScenario(i => i with { Keys = new StaticKeySource([TestKeys.IdpEc().PublicKey, TestKeys.OtherIdpEc().PublicKey]) });
        AssertRejected(await s.ValidateAsync(s.Token(header: s.Header(kid: ""))), ErrorIds.IdJagKeyNotFound);
    }

    // ----- iss (RFC 7523 §3 item 1; decision 6) -----

    [Fact]
    public async Task Iss_Missing_ReturnsIssuerMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c.Remove("iss"))), ErrorIds.IdJagIssuerMissing);

    [Theory]
    [InlineData("https://idp.evil.example")]
    [InlineData("https://idp.acme.example/")]
    [InlineData("https://IDP.acme.example")]
    [InlineData("http://idp.acme.example")]
    [InlineData("https://idp.acme.example.evil.example")]
    public async Task Iss_NotExactlyTrusted_ReturnsIssuerUntrusted(string iss) =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["iss"] = iss)), ErrorIds.IdJagIssuerUntrusted);

    [Fact]
    public async Task Iss_OtherTrustedIssuerWithOwnKey_IsAccepted()
    {
        var token = _s.Token(c => c["iss"] = OtherIdpIssuer, _s.Header(kid: _s.OtherIdpKey.KeyId), _s.OtherIdpKey);
        Assert.True((await _s.ValidateAsync(token)).IsValid);
    }

    [Fact]
    public async Task Iss_OtherTrustedIssuerSignedWithFirstIssuersKey_ReturnsKeyNotFound()
    {
        // Issuer mix-up: the iss names IdP B but the signature is IdP A's. B's keys only are consulted.
        var token = _s.Token(c => c["iss"] = OtherIdpIssuer);
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagKeyNotFound);
    }

    // ----- aud (ID-JAG §4.4.1; EMA §7.6.2; decision 6) -----

    [Fact]
    public async Task Aud_Missing_ReturnsAudienceMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c.Remove("aud"))), ErrorIds.IdJagAudienceMissing);

    [Fact]
    public async Task Aud_EmptyArray_ReturnsAudienceMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["aud"] = Array.Empty<string>())), ErrorIds.IdJagAudienceMissing);

    [Theory]
    [InlineData("https://as.tickets.example/")]
    [InlineData("https://as.tickets.example/extra")]
    [InlineData("https://as.tickets.exam")]
    [InlineData("https://as.tickets.example.evil.example")]
    [InlineData("https://AS.tickets.example")]
    [InlineData("https://as.tickets.example/token")]
    [InlineData(" https://as.tickets.example")]
    [InlineData("")]
    public async Task Aud_NotExactlyThisServer_ReturnsAudienceMismatch(string aud) =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["aud"] = aud)), ErrorIds.IdJagAudienceMismatch);

    [Fact]
    public async Task Aud_ArrayWithThisServerAndAnother_ReturnsAudienceMultiple() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["aud"] = new[] { AsIssuer, "https://as.other.example" })), ErrorIds.IdJagAudienceMultiple);

    [Fact]
    public async Task Aud_ArrayWithThisServerTwice_ReturnsAudienceMultiple() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["aud"] = new[] { AsIssuer, AsIssuer })), ErrorIds.IdJagAudienceMultiple);

    [Fact]
    public async Task Aud_Number_ReturnsPayloadMalformed() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["aud"] = 42)), ErrorIds.IdJagPayloadMalformed);

    [Fact]
    public async Task Aud_TrailingSlashWithOptInTolerance_IsAccepted()
    {
        var s = new IdJagScenario(i => i with { TolerateAudienceTrailingSlash = true });
        Assert.True((await s.ValidateAsync(s.Token(c => c["aud"] = AsIssuer + "/"))).IsValid);
        AssertRejected(await s.ValidateAsync(s.Token(c => c["aud"] = AsIssuer + "//")), ErrorIds.IdJagAudienceMismatch);
    }

    // ----- time (RFC 7523 §3 items 4–6; EMA §7.4.2; decision 5) -----

    [Fact]
    public async Task Exp_Missing_ReturnsExpirationMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c.Remove("exp"))), ErrorIds.IdJagExpirationMissing);

    [Fact]
    public async Task Exp_Passed_ReturnsExpired()
    {
        var token = _s.Token();
        _s.Time.Advance(TimeSpan.FromSeconds(300 + 60));
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagExpired);
    }

    [Fact]
    public async Task Exp_AsString_ReturnsPayloadMalformed() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["exp"] = (_s.Now + 300).ToString(System.Globalization.CultureInfo.InvariantCulture))), ErrorIds.IdJagPayloadMalformed);

    [Theory]
    [InlineData("exp", long.MaxValue)]
    [InlineData("exp", 253_402_300_800L)]
    [InlineData("iat", long.MinValue)]
    [InlineData("auth_time", long.MaxValue)]
    [InlineData("nbf", -62_135_596_801L)]
    public async Task NumericDate_OutOfRange_ReturnsPayloadMalformed(string claim, long value) =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c[claim] = value)), ErrorIds.IdJagPayloadMalformed);

    [Fact]
    public async Task Nbf_InFutureBeyondSkew_ReturnsNotYetValid() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["nbf"] = _s.Now + 120)), ErrorIds.IdJagNotYetValid);

    [Fact]
    public async Task Iat_Missing_ReturnsIssuedAtMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c.Remove("iat"))), ErrorIds.IdJagIssuedAtMissing);

    [Fact]
    public async Task Iat_InFutureBeyondSkew_ReturnsIssuedInFuture() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => { c["iat"] = _s.Now + 120; c["exp"] = _s.Now + 400; })), ErrorIds.IdJagIssuedInFuture);

    [Fact]
    public async Task Iat_OlderThanMaxAge_ReturnsTooOld()
    {
        var s = new IdJagScenario(i => i with { MaxAge = TimeSpan.FromSeconds(120) });
        var token = s.Token();
        s.Time.Advance(TimeSpan.FromSeconds(200));
        AssertRejected(await s.ValidateAsync(token), ErrorIds.IdJagTooOld);
    }

    [Fact]
    public async Task Lifetime_LongerThanMax_ReturnsLifetimeTooLong() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["exp"] = _s.Now + 3600)), ErrorIds.IdJagLifetimeTooLong);

    [Fact]
    public async Task Lifetime_ExactlyMax_IsAccepted() =>
        Assert.True((await _s.ValidateAsync(_s.Token(c => c["exp"] = _s.Now + 600))).IsValid);

    // ----- sub, jti, client_id (RFC 7523 §3; ID-JAG §3.1, §4.4.1) -----

    [Fact]
    public async Task Sub_Missing_ReturnsSubjectMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c.Remove("sub"))), ErrorIds.IdJagSubjectMissing);

    [Fact]
    public async Task Sub_Empty_ReturnsSubjectMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["sub"] = "")), ErrorIds.IdJagSubjectMissing);

    [Fact]
    public async Task Jti_Missing_ReturnsJtiMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c.Remove("jti"))), ErrorIds.IdJagJtiMissing);

    [Fact]
    public async Task Jti_Empty_ReturnsJtiMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["jti"] = "")), ErrorIds.IdJagJtiMissing);

    [Fact]
    public async Task ClientId_Missing_ReturnsClientIdMissing() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c.Remove("client_id"))), ErrorIds.IdJagClientIdMissing);

    [Theory]
    [InlineData("agent-8")]
    [InlineData("AGENT-7")]
    [InlineData("agent-7 ")]
    [InlineData("agent")]
    public async Task ClientId_NotTheAuthenticatedClient_ReturnsClientMismatch(string claimed) =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["client_id"] = claimed)), ErrorIds.IdJagClientMismatch);

    [Fact]
    public async Task ClientId_NotAllowedForIssuer_ReturnsClientNotAllowed()
    {
        var s = new IdJagScenario(i => i with { AllowedClientIds = new HashSet<string> { "someone-else" } });
        AssertRejected(await s.ValidateAsync(s.Token()), ErrorIds.IdJagClientNotAllowed);
    }

    // ----- resource (decision 7; EMA §7.6.2; RFC 8707 §2) -----

    [Fact]
    public async Task Resource_NotServedHere_ReturnsResourceNotServed() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["resource"] = UnservedResource)), ErrorIds.IdJagResourceNotServed);

    [Fact]
    public async Task Resource_PrefixOfServedResource_ReturnsResourceNotServed() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["resource"] = "https://mcp.tickets.example/mc")), ErrorIds.IdJagResourceNotServed);

    [Fact]
    public async Task Resource_ParameterNotInAssertion_ReturnsInvalidTarget()
    {
        var result = await _s.ValidateAsync(_s.Token(), requestedResources: [SecondServedResource]);
        AssertRejected(result, ErrorIds.IdJagResourceParameterMismatch);
        Assert.Equal(ErrorCodes.InvalidTarget, result.Error!.Code);
    }

    [Fact]
    public async Task Resource_ParameterNamingOneOfSeveral_BindsToIt()
    {
        var result = await _s.ValidateAsync(_s.Token(c => c["resource"] = new[] { Resource, SecondServedResource }), requestedResources: [SecondServedResource]);
        Assert.True(result.IsValid, result.Error?.ToString());
        Assert.Equal(SecondServedResource, result.Value!.Resource);
    }

    [Fact]
    public async Task Resource_SeveralServedWithoutParameter_ReturnsResourceAmbiguous() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["resource"] = new[] { Resource, SecondServedResource })), ErrorIds.IdJagResourceAmbiguous);

    [Fact]
    public async Task Resource_ArrayWithOneServed_BindsToServedOne()
    {
        var result = await _s.ValidateAsync(_s.Token(c => c["resource"] = new[] { UnservedResource, Resource }));
        Assert.True(result.IsValid);
        Assert.Equal(Resource, result.Value!.Resource);
    }

    [Fact]
    public async Task Resource_AbsentAndServerProtectsOne_BindsToIt()
    {
        var s = new IdJagScenario(servedResources: [Resource]);
        var result = await s.ValidateAsync(s.Token(c => c.Remove("resource")));
        Assert.True(result.IsValid);
        Assert.Equal(Resource, result.Value!.Resource);
    }

    [Fact]
    public async Task Resource_AbsentAndServerProtectsSeveral_ReturnsResourceAmbiguous() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c.Remove("resource"))), ErrorIds.IdJagResourceAmbiguous);

    [Theory]
    [InlineData("mcp.tickets.example/mcp")]
    [InlineData("https://mcp.tickets.example/mcp#frag")]
    [InlineData("/mcp")]
    [InlineData("//mcp.tickets.example/mcp")]
    public async Task Resource_NotAnAbsoluteUriWithoutFragment_ReturnsResourceInvalid(string resource) =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["resource"] = resource)), ErrorIds.IdJagResourceInvalid);

    [Fact]
    public async Task Resource_Number_ReturnsResourceInvalid() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["resource"] = 7)), ErrorIds.IdJagResourceInvalid);

    [Fact]
    public async Task Resource_SeveralParameters_ReturnsInvalidTarget() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(), requestedResources: [Resource, SecondServedResource]), ErrorIds.IdJagResourceParameterMismatch);

    // ----- scope, cnf, tenant -----

    [Fact]
    public async Task Scope_AsArray_ReturnsScopeMalformed() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["scope"] = new[] { "tickets.read" })), ErrorIds.IdJagScopeMalformed);

    [Fact]
    public async Task Scope_WithQuoteCharacter_ReturnsScopeMalformed() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["scope"] = "tickets.read \"evil")), ErrorIds.IdJagScopeMalformed);

    [Fact]
    public async Task Cnf_PresentWithoutProof_ReturnsConfirmationUnsupported() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["cnf"] = new Dictionary<string, string> { ["jkt"] = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" })), ErrorIds.IdJagConfirmationUnsupported);

    [Fact]
    public async Task Cnf_WithAProofByTheBoundKey_IsAccepted_ByAnotherKey_IsConfirmationMismatch()
    {
        // ID-JAG §8.6.1.2.2: the proof's RFC 7638 thumbprint must equal cnf.jkt exactly.
        const string Bound = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        Assert.True((await _s.ValidateAsync(_s.Token(c => c["cnf"] = new Dictionary<string, string> { ["jkt"] = Bound }), proofKeyThumbprint: Bound)).IsValid);
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["cnf"] = new Dictionary<string, string> { ["jkt"] = Bound }), proofKeyThumbprint: "another-key-thumbprint"), ErrorIds.IdJagConfirmationMismatch);
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["cnf"] = new Dictionary<string, string> { ["x5t#S256"] = Bound }), proofKeyThumbprint: Bound), ErrorIds.IdJagConfirmationMismatch);
    }

    [Fact]
    public async Task Cnf_AbsentAndAProofPresented_IsAccepted() =>
        Assert.True((await _s.ValidateAsync(_s.Token(), proofKeyThumbprint: "any-key")).IsValid); // RFC 9449: MAY issue a token

    [Fact]
    public async Task Tenant_MismatchWithConfiguredTenant_ReturnsTenantMismatch()
    {
        var s = new IdJagScenario(i => i with { Tenant = "acme" });
        AssertRejected(await s.ValidateAsync(s.Token(c => c["tenant"] = "globex")), ErrorIds.IdJagTenantMismatch);
        AssertRejected(await s.ValidateAsync(s.Token()), ErrorIds.IdJagTenantMismatch);
        Assert.True((await s.ValidateAsync(s.Token(c => c["tenant"] = "acme"))).IsValid);
    }

    // ----- authorization_details (ID-JAG §4.4.1; RFC 9396 §2, §5; ADR 0004) -----

    [Theory]
    [InlineData("\"payment_initiation\"")]
    [InlineData("{\"type\":\"payment_initiation\"}")]
    [InlineData("[\"payment_initiation\"]")]
    [InlineData("[{\"actions\":[\"read\"]}]")]
    [InlineData("[{\"type\":\"\"}]")]
    [InlineData("[{\"type\":7}]")]
    [InlineData("[{\"type\":\"a\",\"type\":\"b\"}]")]
    public async Task AuthorizationDetails_NotAnArrayOfTypedObjects_ReturnsAuthorizationDetailsMalformed(string claimJson)
    {
        var s = new IdJagScenario();
        var token = s.Token(c => c["authorization_details"] = JsonDocument.Parse(claimJson).RootElement.Clone());
        AssertRejected(await s.ValidateAsync(token), ErrorIds.IdJagAuthorizationDetailsMalformed);
    }

    [Fact]
    public async Task AuthorizationDetails_OfATypeThisServerDoesNotDefine_ReturnsInvalidAuthorizationDetails_AndConsumesNoJti()
    {
        var s = new IdJagScenario();
        var token = s.Token(c =>
        {
            c["jti"] = "jti-with-details";
            c["authorization_details"] = JsonDocument.Parse("[{\"type\":\"payment_initiation\",\"instructedAmount\":{\"currency\":\"EUR\",\"amount\":\"123.50\"}}]").RootElement.Clone();
        });
        var result = await s.ValidateAsync(token);
        AssertRejected(result, ErrorIds.IdJagAuthorizationDetailsUnsupported);
        Assert.Equal(ErrorCodes.InvalidAuthorizationDetails, result.Error!.Code);

        // Refused before the replay record: the same jti is still redeemable, and an empty array asks for nothing.
        Assert.True((await s.ValidateAsync(s.Token(c =>
        {
            c["jti"] = "jti-with-details";
            c["authorization_details"] = JsonDocument.Parse("[]").RootElement.Clone();
        }))).IsValid);
    }

    // ----- replay (EMA §7.4.2; decision 2) -----

    [Fact]
    public async Task Jti_Replayed_ReturnsReplayed()
    {
        var token = _s.Token();
        Assert.True((await _s.ValidateAsync(token)).IsValid);
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagReplayed);
    }

    [Fact]
    public async Task Jti_SameValueFromAnotherIssuer_IsNotAReplay()
    {
        var claims = _s.ValidClaims();
        Assert.True((await _s.ValidateAsync(RawJwt.Sign(_s.Header(), Json(claims), _s.IdpKey))).IsValid);
        claims["iss"] = OtherIdpIssuer;
        Assert.True((await _s.ValidateAsync(RawJwt.Sign(_s.Header(kid: _s.OtherIdpKey.KeyId), Json(claims), _s.OtherIdpKey))).IsValid);
    }

    [Fact]
    public async Task Jti_RejectedAssertion_DoesNotConsumeJti()
    {
        // A forged copy (wrong client) must not burn the jti of the legitimate assertion.
        var claims = _s.ValidClaims();
        AssertRejected(await _s.ValidateAsync(RawJwt.Sign(_s.Header(), Json(claims), _s.IdpKey), clientId: "agent-8"), ErrorIds.IdJagClientMismatch);
        AssertRejected(await _s.ValidateAsync(RawJwt.Sign(_s.Header(), Json(claims), _s.AttackerKey)), ErrorIds.IdJagSignatureInvalid);
        Assert.True((await _s.ValidateAsync(RawJwt.Sign(_s.Header(), Json(claims), _s.IdpKey))).IsValid);
    }

    [Fact]
    public async Task Jti_ThousandConcurrentRedemptions_ExactlyOneSucceeds()
    {
        var token = _s.Token();
        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(_ => Task.Run(async () => await _s.ValidateAsync(token))));

        Assert.Equal(1, results.Count(r => r.IsValid));
        Assert.Equal(999, results.Count(r => r.Error?.ErrorId == ErrorIds.IdJagReplayed.Id));
    }

    // ----- structure (RFC 7515 §7.1, RFC 7519 §4, RFC 7516) -----

    public static TheoryData<string, string> MalformedTokens()
    {
        var s = new IdJagScenario();
        var valid = s.Token();
        var p = valid.Split('.');
        var claims = Json(s.ValidClaims());
        var header = s.Header();
        return new TheoryData<string, string>
        {
            { "empty", string.Empty },
            { "one segment", "abc" },
            { "two segments", p[0] + "." + p[1] },
            { "four segments", valid + ".x" },
            { "padded base64", p[0] + "=." + p[1] + "." + p[2] },
            { "standard base64 alphabet", p[0].Replace('-', '+').Replace('_', '/') + "+/." + p[1] + "." + p[2] },
            { "whitespace inside", p[0] + ". " + p[1] + "." + p[2] },
            { "empty header", "." + p[1] + "." + p[2] },
            { "empty payload", p[0] + ".." + p[2] },
            { "impossible base64 length", p[0] + "." + p[1] + "a." + p[2] },
            { "non-canonical trailing bits", p[0] + "." + p[1] + "." + p[2][..^4] },
            { "invalid signature characters", p[0] + "." + p[1] + ".***" },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedTokens))]
    public async Task Structure_Malformed_ReturnsIdJagMalformed(string name, string token)
    {
        var result = await _s.ValidateAsync(token);
        Assert.False(result.IsValid, name);
        Assert.Equal(ErrorCodes.InvalidGrant, result.Error!.Code);
        Assert.Contains(result.Error.ErrorId, new[] { ErrorIds.IdJagMalformed.Id, ErrorIds.IdJagSignatureInvalid.Id });
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[\"alg\",\"ES256\"]")]
    [InlineData("{\"alg\":\"ES256\",\"alg\":\"none\",\"typ\":\"oauth-id-jag+jwt\"}")]
    [InlineData("{\"alg\":\"ES256\",\"typ\":\"oauth-id-jag+jwt\"} trailing")]
    [InlineData("{\"alg\":256,\"typ\":\"oauth-id-jag+jwt\"}")]
    [InlineData("{\"alg\":\"ES256\",\"typ\":\"oauth-id-jag+jwt\",}")]
    public async Task Header_NotAValidJoseHeader_ReturnsHeaderMalformed(string headerJson) =>
        AssertRejected(await _s.ValidateAsync(RawJwt.Sign(headerJson, Json(_s.ValidClaims()), _s.IdpKey)), ErrorIds.IdJagHeaderMalformed);

    [Fact]
    public async Task Header_DuplicateMemberThroughEscape_ReturnsHeaderMalformed() =>
        AssertRejected(await _s.ValidateAsync(RawJwt.Sign("{\"alg\":\"ES256\",\"typ\":\"oauth-id-jag+jwt\",\"\\u0061lg\":\"none\"}", Json(_s.ValidClaims()), _s.IdpKey)), ErrorIds.IdJagHeaderMalformed);

    [Fact]
    public async Task Header_Crit_ReturnsCriticalHeader() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(header: _s.Header(extra: "\"crit\":[\"exp\"]"))), ErrorIds.IdJagCriticalHeader);

    [Fact]
    public async Task Jwe_FiveSegments_ReturnsEncrypted() =>
        AssertRejected(await _s.ValidateAsync("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"), ErrorIds.IdJagEncrypted);

    [Fact]
    public async Task Claims_DuplicateSub_ReturnsPayloadMalformed()
    {
        var json = Json(_s.ValidClaims()).TrimEnd('}') + ",\"sub\":\"admin\"}";
        AssertRejected(await _s.ValidateAsync(RawJwt.Sign(_s.Header(), json, _s.IdpKey)), ErrorIds.IdJagPayloadMalformed);
    }

    [Fact]
    public async Task Claims_DuplicateAudThroughEscape_ReturnsPayloadMalformed()
    {
        var json = Json(_s.ValidClaims()).TrimEnd('}') + ",\"\\u0061ud\":\"https://as.other.example\"}";
        AssertRejected(await _s.ValidateAsync(RawJwt.Sign(_s.Header(), json, _s.IdpKey)), ErrorIds.IdJagPayloadMalformed);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2,3]")]
    [InlineData("\"a string\"")]
    [InlineData("{\"iss\":\"https://idp.acme.example\"")]
    [InlineData("{\"iss\":\"https://idp.acme.example\"}{}")]
    public async Task Claims_NotAJsonObject_ReturnsPayloadMalformed(string payload) =>
        AssertRejected(await _s.ValidateAsync(RawJwt.Sign(_s.Header(), payload, _s.IdpKey)), ErrorIds.IdJagPayloadMalformed);

    [Fact]
    public async Task Claims_InvalidUtf8_ReturnsPayloadMalformed()
    {
        var header = RawJwt.B64(_s.Header());
        var payload = RawJwt.B64([.. Encoding.UTF8.GetBytes("{\"iss\":\"https://idp.acme.example\",\"sub\":\""), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\"}")]);
        var input = header + "." + payload;
        var token = input + "." + RawJwt.B64(_s.IdpKey.Sign(Encoding.ASCII.GetBytes(input)));
        AssertRejected(await _s.ValidateAsync(token), ErrorIds.IdJagPayloadMalformed);
    }

    [Fact]
    public async Task Claims_DeeplyNested_ReturnsPayloadMalformed()
    {
        var nested = new string('[', 100) + new string(']', 100);
        var json = Json(_s.ValidClaims()).TrimEnd('}') + ",\"x\":" + nested + "}";
        AssertRejected(await _s.ValidateAsync(RawJwt.Sign(_s.Header(), json, _s.IdpKey)), ErrorIds.IdJagPayloadMalformed);
    }

    [Fact]
    public async Task Token_Oversized_ReturnsTooLarge() =>
        AssertRejected(await _s.ValidateAsync(_s.Token(c => c["padding"] = new string('a', 20_000))), ErrorIds.IdJagTooLarge);

    [Fact]
    public async Task Token_Null_ReturnsMalformedWithoutThrowing() =>
        AssertRejected(await _s.ValidateAsync(null!), ErrorIds.IdJagMalformed);
}
