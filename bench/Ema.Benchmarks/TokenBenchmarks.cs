using System.Net;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.IdJag;
using Ema.Tokens.Issuers;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;

namespace Ema.Benchmarks;

/// <summary>
/// The token engine beside the raw ECDSA P-256 operation each token operation contains, in one run, so the Ratio
/// column is the cost of Ema's JWT layer (parsing, claim rules, key lookup, replay insert) over the crypto alone.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class TokenBenchmarks
{
    private const string IdpIssuer = "https://idp.acme.example";
    private const string AsIssuer = "https://as.tickets.example";
    private const string Resource = "https://mcp.tickets.example/mcp";

    private FakeTimeProvider _time = null!;
    private ECDsa _rawKey = null!;
    private byte[] _rawInput = null!;
    private byte[] _rawSignature = null!;
    private SigningKeyRing _idpRing = null!;
    private SigningKeyRing _asRing = null!;
    private IdJagValidator _warmValidator = null!;
    private IdJagValidator _coldValidator = null!;
    private string[] _idJags = null!;
    private int _next;
    private AccessTokenMinter _accessTokenMinter = null!;
    private AccessTokenDescriptor _accessTokenDescriptor = null!;
    private AccessTokenValidator _accessTokenValidator = null!;
    private string _accessToken = null!;
    private IdJagMinter _idJagMinter = null!;
    private IdJagDescriptor _idJagDescriptor = null!;
    private InMemoryReplayCache _replay = null!;
    private long _replayCounter;

    [GlobalSetup]
    public void Setup()
    {
        _time = new FakeTimeProvider();
        _idpRing = TestKeys.RingOf(TestKeys.IdpEc(), _time);
        _asRing = TestKeys.RingOf(TestKeys.OtherIdpEc(), _time);

        // The raw operations use the same key and an input of the same length as the ID-JAG's signing input.
        _rawKey = ECDsa.Create();
        _rawKey.ImportPkcs8PrivateKey(Convert.FromBase64String(TestKeys.IdpEcPkcs8), out _);

        _idJagMinter = new IdJagMinter(_idpRing, _time);
        _idJagDescriptor = new IdJagDescriptor
        {
            Issuer = IdpIssuer, Subject = "u-1001", Audience = AsIssuer, ClientId = "agent-7",
            Resources = [Resource], Scope = "tickets.read tickets.write", AuthTime = _time.GetUtcNow(), Amr = ["pwd", "mfa"],
        };

        // Distinct jtis so every validation takes the accepting path, replay insert included.
        _idJags = [.. Enumerable.Range(0, 4096).Select(_ => _idJagMinter.Mint(_idJagDescriptor).Token)];
        var firstInput = _idJags[0][.._idJags[0].LastIndexOf('.')];
        _rawInput = Encoding.ASCII.GetBytes(firstInput);
        _rawSignature = _rawKey.SignData(_rawInput, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        var warmIssuer = new TrustedIssuer { Issuer = IdpIssuer, Keys = _idpRing };
        _warmValidator = new IdJagValidator(new InMemoryTrustedIssuerRegistry([warmIssuer]), new CyclingReplayCache(_time), _time);

        // Cold: every validation starts from an empty key cache and fetches and parses the issuer's JWKS.
        var jwks = System.Text.Json.JsonSerializer.Serialize(_idpRing.Jwks, EmaJsonContext.Default.JsonWebKeySetDocument);
        _coldValidator = new IdJagValidator(new ColdKeyRegistry(IdpIssuer, jwks, _time), new CyclingReplayCache(_time), _time);

        _accessTokenMinter = new AccessTokenMinter(_asRing, _time);
        _accessTokenDescriptor = new AccessTokenDescriptor { Issuer = AsIssuer, Subject = "acct-42", Audience = Resource, ClientId = "agent-7", Scope = "tickets.read" };
        _accessToken = _accessTokenMinter.Mint(_accessTokenDescriptor).Token;
        _accessTokenValidator = new AccessTokenValidator(new AccessTokenValidationParameters { Issuer = AsIssuer, Audience = Resource, Keys = _asRing }, _time);
        _replay = new InMemoryReplayCache(_time, new InMemoryReplayCacheOptions { MaxEntries = int.MaxValue });
    }

    private IdJagValidationRequest NextRequest() => new()
    {
        Assertion = _idJags[Interlocked.Increment(ref _next) & 4095],
        AuthenticatedClientId = "agent-7",
        AuthorizationServerIssuer = AsIssuer,
        ServedResources = [Resource],
    };

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("verify")]
    public bool RawEcdsaP256Verify() =>
        _rawKey.VerifyData(_rawInput, _rawSignature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    [Benchmark]
    [BenchmarkCategory("verify")]
    public bool IdJagValidateWarm() => _warmValidator.ValidateAsync(NextRequest(), default).AsTask().GetAwaiter().GetResult().IsValid;

    [Benchmark]
    [BenchmarkCategory("verify")]
    public bool IdJagValidateCold() => _coldValidator.ValidateAsync(NextRequest(), default).AsTask().GetAwaiter().GetResult().IsValid;

    [Benchmark]
    [BenchmarkCategory("verify")]
    public bool AccessTokenValidate() => _accessTokenValidator.ValidateAsync(_accessToken, default).AsTask().GetAwaiter().GetResult().IsValid;

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("sign")]
    public byte[] RawEcdsaP256Sign() =>
        _rawKey.SignData(_rawInput, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    [Benchmark]
    [BenchmarkCategory("sign")]
    public string AccessTokenMint() => _accessTokenMinter.Mint(_accessTokenDescriptor).Token;

    [Benchmark]
    [BenchmarkCategory("sign")]
    public string IdJagMint() => _idJagMinter.Mint(_idJagDescriptor).Token;

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("replay")]
    public byte[] RawSha256OfJti() => SHA256.HashData(Encoding.UTF8.GetBytes(IdpIssuer + "\0jti-" + _replayCounter++));

    [Benchmark]
    [BenchmarkCategory("replay")]
    public ReplayCheckResult ReplayCacheInsert() =>
        _replay.TryAddAsync(IdpIssuer, "jti-" + _replayCounter++, _time.GetUtcNow().AddMinutes(6), default).AsTask().GetAwaiter().GetResult();

    /// <summary>The real in-memory cache, renewed every 200,000 inserts so the benchmark's memory stays bounded.</summary>
    private sealed class CyclingReplayCache(TimeProvider time) : IReplayCache
    {
        private InMemoryReplayCache _inner = new(time);
        private int _count;

        public ValueTask<ReplayCheckResult> TryAddAsync(string issuer, string jwtId, DateTimeOffset expiresAt, CancellationToken cancellationToken)
        {
            if (++_count % 200_000 == 0)
            {
                _inner = new InMemoryReplayCache(time);
            }

            return _inner.TryAddAsync(issuer, jwtId, expiresAt, cancellationToken);
        }
    }

    /// <summary>A registry whose issuer comes with a brand-new HTTP key source on every lookup (nothing cached).</summary>
    private sealed class ColdKeyRegistry(string issuer, string jwks, TimeProvider time) : ITrustedIssuerRegistry
    {
        private readonly HttpClient _http = new(new JwksHandler(jwks));

        public ValueTask<TrustedIssuer?> FindAsync(string name, CancellationToken cancellationToken) =>
            ValueTask.FromResult<TrustedIssuer?>(name == issuer
                ? new TrustedIssuer { Issuer = issuer, Keys = new HttpJwksKeySource(_http, new HttpJwksKeySourceOptions { JwksUri = new Uri("https://idp.acme.example/jwks") }, time) }
                : null);
    }

    private sealed class JwksHandler(string jwks) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(jwks, Encoding.UTF8, "application/json") });
    }
}
