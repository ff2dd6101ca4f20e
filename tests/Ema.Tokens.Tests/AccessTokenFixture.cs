using Ema.Testing;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.Keys;

namespace Ema.Tokens.Tests;

/// <summary>An authorization server's key ring, its access-token minter, and a resource server's validator.</summary>
public sealed class AccessTokenFixture
{
    public const string AsIssuer = "https://as.tickets.example";
    public const string Resource = "https://mcp.tickets.example/mcp";

    public AccessTokenFixture()
    {
        Time = new FakeTimeProvider();
        Ring = SigningKeyRing.CreateNew(new SigningKeyRingOptions(), Time);
        Minter = new AccessTokenMinter(Ring, Time);
        Validator = new AccessTokenValidator(new AccessTokenValidationParameters { Issuer = AsIssuer, Audience = Resource, Keys = Ring }, Time);
    }

    public FakeTimeProvider Time { get; }

    public SigningKeyRing Ring { get; }

    public AccessTokenMinter Minter { get; }

    public AccessTokenValidator Validator { get; }

    public AccessTokenDescriptor Descriptor(string audience = Resource) => new()
    {
        Issuer = AsIssuer,
        Subject = "acct-42",
        Audience = audience,
        ClientId = "agent-7",
        Scope = "tickets.read",
    };
}
