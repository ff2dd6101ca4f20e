using Ema.Server.Options;
using Ema.Tokens.IdJag;

namespace Ema.IntegrationTests.Options;

/// <summary>The servers' options, checked at start-up (style rule 4): the decisions they enforce, one rule per test.</summary>
public sealed class ServerOptionsValidationTests
{
    [Theory]
    [InlineData("http://idp.example.com", false, false)]
    [InlineData("http://idp.example.com", true, false)] // the development switch is for loopback only
    [InlineData("http://127.0.0.1:5000/idp", false, false)]
    [InlineData("http://127.0.0.1:5000/idp", true, true)]
    [InlineData("ftp://127.0.0.1/idp", true, false)]
    [InlineData("https://idp.example.com", false, true)]
    public void Https_EveryIssuer_UnlessLoopbackWithTheDevelopmentSwitch(string issuer, bool allowHttpOnLoopback, bool valid)
    {
        // Decision 22 / spec §2(c)27: https for every endpoint; plain http only on loopback when a development option says so.
        var idp = new IdentityProviderOptionsValidator().Validate(null, new IdentityProviderOptions { Issuer = issuer, AllowHttpOnLoopback = allowHttpOnLoopback });
        var authorizationServer = new AuthorizationServerOptionsValidator().Validate(null, new AuthorizationServerOptions { Issuer = issuer, AllowHttpOnLoopback = allowHttpOnLoopback });
        Assert.Equal(valid, idp.Succeeded);
        Assert.Equal(valid, authorizationServer.Succeeded);
        if (!valid)
        {
            Assert.Contains("Issuer", idp.FailureMessage, StringComparison.Ordinal);
            Assert.Contains("Issuer", authorizationServer.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(300, true)]
    [InlineData(600, true)]
    [InlineData(601, false)]
    [InlineData(0, false)]
    public void IdJagLifetime_AtMost600Seconds_AtStartAndAtMinting(int seconds, bool valid)
    {
        // Decision 5 / spec §2(b)23: the option is refused at start-up, and the minter refuses such a descriptor too.
        var result = new IdentityProviderOptionsValidator().Validate(null, new IdentityProviderOptions { Issuer = "https://idp.example.com", IdJagLifetime = TimeSpan.FromSeconds(seconds) });
        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("IdJagLifetime", result.FailureMessage, StringComparison.Ordinal);
            Assert.ThrowsAny<ArgumentException>(() => new IdJagMinter(Ema.Tokens.Keys.SigningKeyRing.CreateNew(new Ema.Tokens.Keys.SigningKeyRingOptions(), TimeProvider.System), TimeProvider.System).Mint(new IdJagDescriptor
            {
                Issuer = "https://idp.example.com", Subject = "u", Audience = "https://as.example.com", ClientId = "c", Lifetime = TimeSpan.FromSeconds(seconds),
            }));
        }
    }
}
