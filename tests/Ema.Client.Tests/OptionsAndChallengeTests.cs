using Ema.Client.Discovery;
using Ema.Protocol;

namespace Ema.Client.Tests;

/// <summary>Options are validated at construction (style rule 4); challenges are parsed per RFC 9110 §11.2.</summary>
public sealed class OptionsAndChallengeTests
{
    [Theory]
    [InlineData("http://idp.example", false, "must be an https URL")]
    [InlineData("http://127.0.0.1:8080", false, "must be an https URL")]
    [InlineData("not a url", false, "must be an https URL")]
    [InlineData("https://idp.example#frag", false, "must be an https URL")]
    public void Options_IdentityProviderNotHttps_AreRefusedAtConstruction(string idp, bool loopbackSwitch, string message)
    {
        var options = new EmaClientOptions { IdentityProvider = idp, IdentityProviderClient = new ClientCredentials("a", "s"), AllowHttpOnLoopback = loopbackSwitch };
        var ex = Assert.Throws<InvalidOperationException>(() => new EmaClient(options, new FakeNetwork()));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_HttpOnLoopback_OnlyWithTheDevelopmentSwitch()
    {
        var options = new EmaClientOptions { IdentityProvider = "http://127.0.0.1:8080", IdentityProviderClient = new ClientCredentials("a", null, ClientAuthenticationMethods.None), AllowHttpOnLoopback = true };
        using var client = new EmaClient(options, new FakeNetwork());
        Assert.NotNull(client);
    }

    [Theory]
    [InlineData(ClientAuthenticationMethods.ClientSecretBasic, null, "needs a secret")]
    [InlineData(ClientAuthenticationMethods.ClientSecretPost, "", "needs a secret")]
    [InlineData(ClientAuthenticationMethods.PrivateKeyJwt, "s", "needs PrivateKeyPem")] // a secret is no key
    [InlineData("tls_client_auth", "s", "unsupported authentication method")]
    public void Options_ClientCredentialsInconsistent_AreRefused(string method, string? secret, string message)
    {
        var options = new EmaClientOptions { IdentityProvider = "https://idp.example", IdentityProviderClient = new ClientCredentials("a", "s") };
        options.AuthorizationServerClients["https://as.example"] = new ClientCredentials("agent", secret, method);
        var ex = Assert.Throws<InvalidOperationException>(() => new EmaClient(options, new FakeNetwork()));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not a pem", "is not a PEM private key")]
    [InlineData("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "is not a PEM private key")]
    [InlineData("PUBLIC", "is not a PEM private key")] // a public key imports, but cannot sign
    public void Options_PrivateKeyJwtWithAnUnusableKey_IsRefused(string pem, string message)
    {
        if (pem == "PUBLIC")
        {
            using var rsa = System.Security.Cryptography.RSA.Create(2048);
            pem = rsa.ExportSubjectPublicKeyInfoPem();
        }

        var options = new EmaClientOptions { IdentityProvider = "https://idp.example", IdentityProviderClient = ClientCredentials.WithPrivateKey("a", pem) };
        var ex = Assert.Throws<InvalidOperationException>(() => new EmaClient(options, new FakeNetwork()));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClientCredentials_ToString_NeverShowsTheSecret()
    {
        Assert.DoesNotContain("s3cret", new ClientCredentials("agent", "s3cret").ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("error=\"insufficient_scope\", scope=\"a b\", resource_metadata=\"https://x/.well-known/oauth-protected-resource/mcp\"", "insufficient_scope", "a b", "https://x/.well-known/oauth-protected-resource/mcp")]
    [InlineData("scope=\"q\\\"uoted\",error=invalid_token", "invalid_token", "q\"uoted", null)]
    [InlineData("realm=\"mcp\"", null, null, null)]
    [InlineData("", null, null, null)]
    public void BearerChallenge_ParametersAreParsed(string parameters, string? error, string? scope, string? metadata)
    {
        var parsed = BearerChallenge.ParseParameters(parameters);
        Assert.Equal(error, parsed.GetValueOrDefault("error"));
        Assert.Equal(scope, parsed.GetValueOrDefault("scope"));
        Assert.Equal(metadata, parsed.GetValueOrDefault("resource_metadata"));
    }
}
