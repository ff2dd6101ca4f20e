using Ema.Server.Options;
using Ema.Tokens.AccessTokens;
using Ema.Tokens.Keys;
using Microsoft.Extensions.Options;

namespace Ema.Server.AuthorizationServer;

/// <summary>The authorization server's key ring and access-token minter.</summary>
public sealed class AuthorizationServerTokens(IOptions<AuthorizationServerOptions> options, SigningKeyRing ring, TimeProvider time)
{
    public const string KeyPurpose = "as";

    public string Issuer { get; } = options.Value.Issuer;

    public SigningKeyRing Ring { get; } = ring;

    public AccessTokenMinter AccessTokens { get; } = new(ring, time);
}
