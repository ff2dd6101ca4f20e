using System.Net;
using System.Text;
using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;

namespace Ema.Tokens.Tests;

/// <summary>
/// EMA §7.4.1 and RFC 8725 §3.10: a trusted issuer's keys come over https from its own JWKS, are cached, refreshed on an
/// unknown kid within a per-issuer budget (no fetch storm), and never replaced by keys from anywhere else.
/// </summary>
public sealed class HttpJwksKeySourceTests
{
    private const string JwksUrl = "https://idp.acme.example/jwks";
    private const string MetadataUrl = "https://idp.acme.example/.well-known/openid-configuration";
    private static readonly JwsAlgorithm Es256 = JwsAlgorithm.Get(SecurityAlgorithms.EcdsaSha256);
    private readonly FakeTimeProvider _time = new();

    /// <summary>Serves whatever JWKS (or failure) the test sets, counting requests per path.</summary>
    private sealed class FakeIdpHandler : HttpMessageHandler
    {
        public string JwksJson { get; set; } = "{\"keys\":[]}";

        public HttpStatusCode Status { get; set; } = HttpStatusCode.OK;

        public string MetadataIssuer { get; set; } = "https://idp.acme.example";

        public int JwksRequests;

        public int MetadataRequests;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (request.RequestUri!.AbsolutePath.EndsWith("openid-configuration", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref MetadataRequests);
                return new HttpResponseMessage(HttpStatusCode.OK)
                {
                    Content = new StringContent($"{{\"issuer\":\"{MetadataIssuer}\",\"jwks_uri\":\"{JwksUrl}\"}}", Encoding.UTF8, "application/json"),
                };
            }

            Interlocked.Increment(ref JwksRequests);
            return new HttpResponseMessage(Status) { Content = new StringContent(JwksJson, Encoding.UTF8, "application/json") };
        }
    }

    private static string Jwks(params SigningKey[] keys) =>
        System.Text.Json.JsonSerializer.Serialize(new JsonWebKeySetDocument { Keys = [.. keys.Select(k => k.PublicKey.Jwk)] }, EmaJsonContext.Default.JsonWebKeySetDocument);

    private HttpJwksKeySource Source(FakeIdpHandler handler, HttpJwksKeySourceOptions? options = null) =>
        new(new HttpClient(handler), options ?? new HttpJwksKeySourceOptions { JwksUri = new Uri(JwksUrl) }, _time);

    [Fact]
    public async Task JwksSource_KnownKid_IsFetchedOnceAndCached()
    {
        var key = TestKeys.IdpEc();
        var handler = new FakeIdpHandler { JwksJson = Jwks(key) };
        var source = Source(handler);

        for (var i = 0; i < 50; i++)
        {
            var result = await source.FindKeyAsync(key.KeyId, Es256, default);
            Assert.Equal(KeyLookupStatus.Found, result.Status);
        }

        Assert.Equal(1, handler.JwksRequests);
    }

    [Fact]
    public async Task JwksSource_RandomKidStorm_CausesAtMostOneRefetchPerInterval()
    {
        var handler = new FakeIdpHandler { JwksJson = Jwks(TestKeys.IdpEc()) };
        var source = Source(handler);

        var lookups = Enumerable.Range(0, 1000).Select(i => source.FindKeyAsync("random-" + i, Es256, default).AsTask());
        var results = await Task.WhenAll(lookups);

        Assert.All(results, r => Assert.Equal(KeyLookupStatus.NotFound, r.Status));
        Assert.True(handler.JwksRequests <= 2, $"JWKS fetched {handler.JwksRequests} times");
    }

    [Fact]
    public async Task JwksSource_UnknownKidAfterRotation_IsFoundOnceBudgetAllows()
    {
        var oldKey = TestKeys.IdpEc();
        var newKey = TestKeys.OtherIdpEc();
        var handler = new FakeIdpHandler { JwksJson = Jwks(oldKey) };
        var source = Source(handler);
        Assert.Equal(KeyLookupStatus.Found, (await source.FindKeyAsync(oldKey.KeyId, Es256, default)).Status);

        handler.JwksJson = Jwks(oldKey, newKey);
        Assert.Equal(KeyLookupStatus.Found, (await source.FindKeyAsync(newKey.KeyId, Es256, default)).Status);
        Assert.Equal(2, handler.JwksRequests);
    }

    [Fact]
    public async Task JwksSource_FetchFails_KeepsLastGoodKeys()
    {
        var key = TestKeys.IdpEc();
        var handler = new FakeIdpHandler { JwksJson = Jwks(key) };
        var source = Source(handler);
        await source.FindKeyAsync(key.KeyId, Es256, default);

        handler.Status = HttpStatusCode.InternalServerError;
        _time.Advance(TimeSpan.FromHours(2)); // routine refresh due, and it fails

        Assert.Equal(KeyLookupStatus.Found, (await source.FindKeyAsync(key.KeyId, Es256, default)).Status);
        Assert.Equal(2, handler.JwksRequests);
    }

    [Fact]
    public async Task JwksSource_IssuerDown_ReportsUnavailableWithoutFetchStorm()
    {
        var handler = new FakeIdpHandler { Status = HttpStatusCode.ServiceUnavailable };
        var source = Source(handler);

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(KeyLookupStatus.Unavailable, (await source.FindKeyAsync("k" + i, Es256, default)).Status);
        }

        Assert.Equal(1, handler.JwksRequests);
        _time.Advance(TimeSpan.FromMinutes(2));
        await source.FindKeyAsync("k", Es256, default);
        Assert.Equal(2, handler.JwksRequests);
    }

    [Fact]
    public void JwksSource_HttpUri_IsRefused() =>
        Assert.Throws<ArgumentException>(() => Source(new FakeIdpHandler(), new HttpJwksKeySourceOptions { JwksUri = new Uri("http://idp.acme.example/jwks") }));

    [Fact]
    public void JwksSource_LoopbackHttp_IsAllowedOnlyWithDevelopmentSwitch()
    {
        Assert.Throws<ArgumentException>(() => Source(new FakeIdpHandler(), new HttpJwksKeySourceOptions { JwksUri = new Uri("http://127.0.0.1:5000/jwks") }));
        Assert.NotNull(Source(new FakeIdpHandler(), new HttpJwksKeySourceOptions { JwksUri = new Uri("http://127.0.0.1:5000/jwks"), AllowHttpOnLoopback = true }));
        Assert.Throws<ArgumentException>(() => Source(new FakeIdpHandler(), new HttpJwksKeySourceOptions { JwksUri = new Uri("http://10.0.0.5/jwks"), AllowHttpOnLoopback = true }));
    }

    [Fact]
    public async Task JwksSource_ThroughMetadata_FindsKey()
    {
        var key = TestKeys.IdpEc();
        var handler = new FakeIdpHandler { JwksJson = Jwks(key) };
        var source = Source(handler, new HttpJwksKeySourceOptions { MetadataUri = new Uri(MetadataUrl), Issuer = "https://idp.acme.example" });

        Assert.Equal(KeyLookupStatus.Found, (await source.FindKeyAsync(key.KeyId, Es256, default)).Status);
        Assert.Equal(1, handler.MetadataRequests);
    }

    [Fact]
    public async Task JwksSource_MetadataIssuerMismatch_UsesNoKeys()
    {
        // RFC 8414 §3.3: metadata for another issuer must not supply keys.
        var key = TestKeys.IdpEc();
        var handler = new FakeIdpHandler { JwksJson = Jwks(key), MetadataIssuer = "https://idp.evil.example" };
        var source = Source(handler, new HttpJwksKeySourceOptions { MetadataUri = new Uri(MetadataUrl), Issuer = "https://idp.acme.example" });

        Assert.Equal(KeyLookupStatus.Unavailable, (await source.FindKeyAsync(key.KeyId, Es256, default)).Status);
        Assert.Equal(0, handler.JwksRequests);
    }

    [Fact]
    public async Task JwksSource_OversizedDocument_IsRefused()
    {
        var handler = new FakeIdpHandler { JwksJson = "{\"keys\":[],\"pad\":\"" + new string('a', 300_000) + "\"}" };
        var source = Source(handler);
        Assert.Equal(KeyLookupStatus.Unavailable, (await source.FindKeyAsync("k", Es256, default)).Status);
    }

    [Fact]
    public async Task JwksSource_ConcurrentFirstLookups_ShareOneFetch()
    {
        var key = TestKeys.IdpEc();
        var handler = new FakeIdpHandler { JwksJson = Jwks(key) };
        var source = Source(handler);

        await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => source.FindKeyAsync(key.KeyId, Es256, default).AsTask()));

        Assert.Equal(1, handler.JwksRequests);
    }

    [Fact]
    public async Task JwksSource_IssuersHaveSeparateBudgets()
    {
        // A storm against one issuer must not spend another issuer's refetch budget (a shared bucket is a DoS vector).
        var keyA = TestKeys.IdpEc();
        var keyB = TestKeys.OtherIdpEc();
        var handlerA = new FakeIdpHandler { JwksJson = Jwks(keyA) };
        var handlerB = new FakeIdpHandler { JwksJson = Jwks(keyA) };
        var sourceA = Source(handlerA);
        var sourceB = Source(handlerB);
        await sourceB.FindKeyAsync(keyA.KeyId, Es256, default);

        for (var i = 0; i < 100; i++)
        {
            await sourceA.FindKeyAsync("storm-" + i, Es256, default);
        }

        handlerB.JwksJson = Jwks(keyA, keyB);
        Assert.Equal(KeyLookupStatus.Found, (await sourceB.FindKeyAsync(keyB.KeyId, Es256, default)).Status);
    }

    [Fact]
    public async Task JwksSource_HostileRsaKey_IsSkippedWithoutThrowingOrFetchStorm()
    {
        // Review finding: n of 256 x 0xFF with an empty e made RSA import throw IndexOutOfRangeException.
        var n = RawJwt.B64(Enumerable.Repeat((byte)0xFF, 256).ToArray());
        var handler = new FakeIdpHandler { JwksJson = $"{{\"keys\":[{{\"kty\":\"RSA\",\"kid\":\"bad\",\"n\":\"{n}\",\"e\":\"\"}}]}}" };
        var source = Source(handler);

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(KeyLookupStatus.Unavailable, (await source.FindKeyAsync("bad", JwsAlgorithm.Get("RS256"), default)).Status);
        }

        Assert.Equal(1, handler.JwksRequests);
    }

    [Fact]
    public void Jwk_RsaExponentTooLargeOrEven_IsRefused()
    {
        using var key = TestKeys.IdpRsa();
        var jwk = key.PublicKey.Jwk;
        Assert.False(VerificationKey.TryFromJwk(jwk with { E = RawJwt.B64(Enumerable.Repeat((byte)0x01, 300).ToArray()) }, out _, out _));
        Assert.False(VerificationKey.TryFromJwk(jwk with { E = RawJwt.B64([0x01, 0x00, 0x00]) }, out _, out _));
        Assert.True(VerificationKey.TryFromJwk(jwk, out _, out _));
    }

    [Fact]
    public async Task JwksSource_CallerCancellation_IsNotRecordedAsIssuerFailure()
    {
        var key = TestKeys.IdpEc();
        var gate = new TaskCompletionSource();
        var handler = new BlockingHandler(gate, Jwks(key));
        var source = new HttpJwksKeySource(new HttpClient(handler), new HttpJwksKeySourceOptions { JwksUri = new Uri(JwksUrl) }, _time);

        using var cancelled = new CancellationTokenSource();
        var first = source.FindKeyAsync(key.KeyId, Es256, cancelled.Token).AsTask();
        await handler.Started.Task;
        cancelled.Cancel();
        gate.SetResult();
        await Task.WhenAny(first, Task.Delay(5000));

        Assert.Equal(KeyLookupStatus.Found, (await source.FindKeyAsync(key.KeyId, Es256, default)).Status);
    }

    private sealed class BlockingHandler(TaskCompletionSource gate, string jwks) : HttpMessageHandler
    {
        public TaskCompletionSource Started { get; } = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Started.TrySetResult();
            await gate.Task.WaitAsync(cancellationToken);
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(jwks, Encoding.UTF8, "application/json") };
        }
    }
}
