using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.Keys;

namespace Ema.Tokens.Tests;

/// <summary>Decision 18: a next key is published before it signs; retired keys stay published for the longest token lifetime.</summary>
public sealed class KeyRingTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void KeyRing_New_PublishesCurrentAndNextKeys()
    {
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions(), _time);

        Assert.NotNull(ring.Next);
        Assert.Equal(2, ring.Jwks.Keys.Count);
        Assert.Contains(ring.Jwks.Keys, k => k.KeyId == ring.Current.KeyId);
        Assert.Contains(ring.Jwks.Keys, k => k.KeyId == ring.Next!.KeyId);
        Assert.All(ring.Jwks.Keys, k => Assert.Equal("EC", k.KeyType));
        Assert.All(ring.Jwks.Keys, k => Assert.Equal("ES256", k.Algorithm));
    }

    [Fact]
    public void KeyRing_Jwks_ContainsNoPrivateMaterial()
    {
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions(), _time);
        var json = System.Text.Json.JsonSerializer.Serialize(ring.Jwks, EmaJsonContext.Default.JsonWebKeySetDocument);
        Assert.DoesNotContain("\"d\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\"p\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyRing_Rotate_PromotesNextAndKeepsRetiredKeyVerifying()
    {
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions { RetiredKeyRetention = TimeSpan.FromHours(1) }, _time);
        var before = ring.Current.KeyId;
        var next = ring.Next!.KeyId;
        var token = new AccessTokenMinter(ring, _time).Mint(new AccessTokenDescriptor { Issuer = "https://as", Subject = "s", Audience = "https://rs", ClientId = "c" }).Token;

        ring.Rotate();

        Assert.Equal(next, ring.Current.KeyId);
        Assert.NotEqual(next, ring.Next!.KeyId);
        Assert.Contains(ring.Jwks.Keys, k => k.KeyId == before);
        var validator = new AccessTokenValidator(new AccessTokenValidationParameters { Issuer = "https://as", Audience = "https://rs", Keys = ring }, _time);
        Assert.True((await validator.ValidateAsync(token, CancellationToken.None)).IsValid);
    }

    [Fact]
    public void KeyRing_ProposedRotation_ChangesNothingUntilAdopted()
    {
        // The key manager stores a rotation (with its audit record) before adopting it: a failed store must leave the
        // ring signing with the key the database holds.
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions(), _time);
        var current = ring.Current.KeyId;
        var next = ring.Next!.KeyId;

        var proposed = ring.ProposeRotation();

        Assert.Equal(current, ring.Current.KeyId);
        Assert.Equal(next, ring.Next!.KeyId);
        Assert.Equal(2, ring.Jwks.Keys.Count);
        Assert.Equal(next, proposed.Single(e => e.Status == SigningKeyStatus.Current).Key.KeyId);

        ring.Adopt(proposed);

        Assert.Equal(next, ring.Current.KeyId);
        Assert.Contains(ring.Jwks.Keys, k => k.KeyId == current);
    }

    [Fact]
    public void KeyRing_RetiredKeyPastRetention_IsDroppedAtNextRotation()
    {
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions { RetiredKeyRetention = TimeSpan.FromMinutes(10) }, _time);
        var first = ring.Current.KeyId;
        ring.Rotate();
        _time.Advance(TimeSpan.FromMinutes(11));
        ring.Rotate();

        Assert.DoesNotContain(ring.Jwks.Keys, k => k.KeyId == first);
        Assert.Equal(3, ring.Entries.Count); // retired (within retention), current, next
    }

    [Fact]
    public void KeyRing_RebuiltFromExportedEntries_SignsWithSameKey()
    {
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions(), _time);
        var stored = ring.Entries.Select(e => (Pkcs8: e.Key.ExportPkcs8(), e.Key.Algorithm.Name, e.Status, e.CreatedAt)).ToList();

        var rebuilt = new SigningKeyRing(
            stored.Select(s => new SigningKeyEntry(SigningKey.ImportPkcs8(s.Pkcs8, s.Name), s.Status, s.CreatedAt)),
            new SigningKeyRingOptions(),
            _time);

        Assert.Equal(ring.Current.KeyId, rebuilt.Current.KeyId);
        Assert.Equal(ring.Next!.KeyId, rebuilt.Next!.KeyId);
    }

    [Fact]
    public void KeyRing_TwoCurrentKeys_IsAConfigurationError()
    {
        var now = _time.GetUtcNow();
        Assert.Throws<ArgumentException>(() => new SigningKeyRing(
            [new SigningKeyEntry(TestKeys.IdpEc(), SigningKeyStatus.Current, now), new SigningKeyEntry(TestKeys.OtherIdpEc(), SigningKeyStatus.Current, now)],
            new SigningKeyRingOptions(),
            _time));
    }

    [Theory]
    [InlineData(SecurityAlgorithms.RsaSha256)]
    [InlineData(SecurityAlgorithms.RsaSsaPssSha256)]
    [InlineData(SecurityAlgorithms.EcdsaSha384)]
    public async Task KeyRing_OptionalAlgorithms_SignAndVerify(string algorithm)
    {
        var ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions { Algorithm = algorithm }, _time);
        var token = new AccessTokenMinter(ring, _time).Mint(new AccessTokenDescriptor { Issuer = "https://as", Subject = "s", Audience = "https://rs", ClientId = "c" }).Token;
        var validator = new AccessTokenValidator(new AccessTokenValidationParameters { Issuer = "https://as", Audience = "https://rs", Keys = ring, AllowedAlgorithms = [algorithm] }, _time);
        Assert.True((await validator.ValidateAsync(token, CancellationToken.None)).IsValid);
    }

    [Fact]
    public void VerificationKey_RsaShorterThan2048Bits_IsRefused()
    {
        using var weak = TestKeys.WeakRsa();
        Assert.Throws<ArgumentException>(() => VerificationKey.FromRsa(weak));
        var jwk = new JsonWebKeyDocument
        {
            KeyType = "RSA",
            N = RawJwt.B64(weak.ExportParameters(false).Modulus!),
            E = RawJwt.B64(weak.ExportParameters(false).Exponent!),
        };
        Assert.False(VerificationKey.TryFromJwk(jwk, out _, out _));
    }

    [Fact]
    public void VerificationKey_EncryptionKeyInJwks_IsNotUsedForSignatures()
    {
        var jwk = TestKeys.IdpEc().PublicKey.Jwk with { Use = "enc" };
        Assert.False(VerificationKey.TryFromJwk(jwk, out _, out var reason));
        Assert.NotNull(reason);
    }

    [Fact]
    public void Jwks_DuplicateKid_UsesNeitherCopy()
    {
        var a = TestKeys.IdpEc().PublicKey.Jwk with { KeyId = "same" };
        var b = TestKeys.OtherIdpEc().PublicKey.Jwk with { KeyId = "same" };
        var c = TestKeys.AttackerEc().PublicKey.Jwk;
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new JsonWebKeySetDocument { Keys = [a, b, c] }, EmaJsonContext.Default.JsonWebKeySetDocument);

        var parsed = JwksParser.Parse(json);

        Assert.Single(parsed.Keys);
        Assert.Equal(c.KeyId, parsed.Keys[0].KeyId);
    }
}
