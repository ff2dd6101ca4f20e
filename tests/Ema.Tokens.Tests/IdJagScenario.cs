using System.Text.Json;
using Ema.Protocol;
using Ema.Testing;
using Ema.Tokens.IdJag;
using Ema.Tokens.Issuers;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;

namespace Ema.Tokens.Tests;

/// <summary>
/// One authorization server trusting two IdPs, with a fixed clock. Builds valid ID-JAGs and lets each test break
/// exactly one thing.
/// </summary>
public sealed class IdJagScenario
{
    public const string IdpIssuer = "https://idp.acme.example";
    public const string OtherIdpIssuer = "https://idp.globex.example";
    public const string AsIssuer = "https://as.tickets.example";
    public const string Resource = "https://mcp.tickets.example/mcp";
    public const string SecondServedResource = "https://mcp.tickets.example/admin-mcp";
    public const string UnservedResource = "https://mcp.wiki.example/mcp";
    public const string ClientId = "agent-7";

    public IdJagScenario(Func<TrustedIssuer, TrustedIssuer>? configureIdp = null, IReadOnlyCollection<string>? servedResources = null)
    {
        Time = new FakeTimeProvider();
        IdpKey = TestKeys.IdpEc();
        OtherIdpKey = TestKeys.OtherIdpEc();
        AttackerKey = TestKeys.AttackerEc();
        IdpRsaKey = TestKeys.IdpRsa();
        IdpPssKey = TestKeys.IdpRsa(SecurityAlgorithms.RsaSsaPssSha256);
        var idp = new TrustedIssuer
        {
            Issuer = IdpIssuer,
            Keys = new StaticKeySource([IdpKey.PublicKey, VerificationKey.FromRsa(System.Security.Cryptography.RSA.Create(IdpRsaKeyParameters()), keyId: "rsa-1")]),
        };
        Idp = configureIdp?.Invoke(idp) ?? idp;
        var other = new TrustedIssuer { Issuer = OtherIdpIssuer, Keys = new StaticKeySource([OtherIdpKey.PublicKey]) };
        Registry = new InMemoryTrustedIssuerRegistry([Idp, other]);
        Replay = new InMemoryReplayCache(Time);
        Validator = new IdJagValidator(Registry, Replay, Time);
        ServedResources = servedResources ?? [Resource, SecondServedResource];
    }

    public FakeTimeProvider Time { get; }

    public SigningKey IdpKey { get; }

    public SigningKey OtherIdpKey { get; }

    public SigningKey AttackerKey { get; }

    public SigningKey IdpRsaKey { get; }

    public SigningKey IdpPssKey { get; }

    public TrustedIssuer Idp { get; }

    public InMemoryTrustedIssuerRegistry Registry { get; }

    public InMemoryReplayCache Replay { get; }

    public IdJagValidator Validator { get; }

    public IReadOnlyCollection<string> ServedResources { get; }

    public long Now => Time.GetUtcNow().ToUnixTimeSeconds();

    private System.Security.Cryptography.RSAParameters IdpRsaKeyParameters()
    {
        using var rsa = System.Security.Cryptography.RSA.Create();
        rsa.ImportPkcs8PrivateKey(Convert.FromBase64String(TestKeys.IdpRsaPkcs8), out _);
        return rsa.ExportParameters(false);
    }

    /// <summary>Claims of a valid ID-JAG for <see cref="Resource"/>.</summary>
    public Dictionary<string, object?> ValidClaims() => new()
    {
        ["iss"] = IdpIssuer,
        ["sub"] = "u-1001",
        ["aud"] = AsIssuer,
        ["client_id"] = ClientId,
        ["jti"] = "jti-" + Guid.NewGuid().ToString("N"),
        ["iat"] = Now,
        ["exp"] = Now + 300,
        ["resource"] = Resource,
        ["scope"] = "tickets.read tickets.write",
        ["auth_time"] = Now - 30,
        ["amr"] = new[] { "pwd", "mfa" },
    };

    public string Header(string alg = "ES256", string? typ = "oauth-id-jag+jwt", string? kid = null, string extra = "")
    {
        kid ??= alg.StartsWith("RS", StringComparison.Ordinal) || alg.StartsWith("PS", StringComparison.Ordinal) ? "rsa-1" : IdpKey.KeyId;
        var parts = new List<string> { $"\"alg\":\"{alg}\"" };
        if (typ is not null)
        {
            parts.Add($"\"typ\":\"{typ}\"");
        }

        if (kid.Length > 0)
        {
            parts.Add($"\"kid\":\"{kid}\"");
        }

        if (extra.Length > 0)
        {
            parts.Add(extra);
        }

        return "{" + string.Join(",", parts) + "}";
    }

    public static string Json(Dictionary<string, object?> claims) => JsonSerializer.Serialize(claims);

    /// <summary>A signed ID-JAG whose claims were changed by <paramref name="mutate"/>.</summary>
    public string Token(Action<Dictionary<string, object?>>? mutate = null, string? header = null, SigningKey? key = null)
    {
        var claims = ValidClaims();
        mutate?.Invoke(claims);
        return RawJwt.Sign(header ?? Header(), Json(claims), key ?? IdpKey);
    }

    public ValueTask<IdJagValidationResult> ValidateAsync(string token, string clientId = ClientId, IReadOnlyList<string>? requestedResources = null, string? proofKeyThumbprint = null) =>
        Validator.ValidateAsync(
            new IdJagValidationRequest
            {
                Assertion = token,
                AuthenticatedClientId = clientId,
                AuthorizationServerIssuer = AsIssuer,
                ServedResources = ServedResources,
                RequestedResources = requestedResources ?? [],
                ProofKeyThumbprint = proofKeyThumbprint,
            },
            CancellationToken.None);

    public static void AssertRejected(IdJagValidationResult result, ErrorDescriptor expected)
    {
        Assert.False(result.IsValid, "the assertion was accepted");
        Assert.NotNull(result.Error);
        Assert.Equal(expected.Id, result.Error!.ErrorId);
        Assert.Equal(expected.Code, result.Error.Code);
    }
}
