using System.Net;
using System.Text;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.AuthorizationServer;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Stores;
using Ema.Testing;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;

namespace Ema.IntegrationTests.AuthorizationServer;

/// <summary>A key an issuer takes out of its JWKS stops being accepted within <see cref="AuthorizationServerOptions.IssuerKeysRefreshInterval"/>.</summary>
public sealed class IssuerKeyRefreshTests
{
    private const string Issuer = "https://idp.acme.example";

    [Fact]
    public async Task KeyRemovedFromTheIssuersJwks_IsNoLongerFound_AfterTheKeysRefreshInterval()
    {
        var time = new FakeTimeProvider();
        var key = TestKeys.IdpEc();
        var handler = new JwksHandler { Json = Jwks(key) };
        var registry = new StoreTrustedIssuerRegistry(
            new OneIssuerStore(new TrustedIssuerRegistration { Issuer = Issuer, TenantId = "t-acme", JwksUri = Issuer + "/jwks", AllowedAlgorithms = ["ES256"] }),
            new JwksHttpClient(new HttpClient(handler)),
            time,
            Microsoft.Extensions.Options.Options.Create(new AuthorizationServerOptions { IssuerKeysRefreshInterval = TimeSpan.FromMinutes(5) }));
        var es256 = JwsAlgorithm.Get(SecurityAlgorithms.EcdsaSha256);
        Assert.Equal(KeyLookupStatus.Found, (await (await registry.FindAsync(Issuer, default))!.Keys.FindKeyAsync(key.KeyId, es256, default)).Status);

        handler.Json = Jwks(TestKeys.OtherIdpEc()); // the IdP rotates the compromised key out
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(KeyLookupStatus.Found, (await (await registry.FindAsync(Issuer, default))!.Keys.FindKeyAsync(key.KeyId, es256, default)).Status); // still within the interval
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.NotEqual(KeyLookupStatus.Found, (await (await registry.FindAsync(Issuer, default))!.Keys.FindKeyAsync(key.KeyId, es256, default)).Status);
        Assert.Equal(3, handler.Count); // the first fetch, one routine refetch, one refetch for the now-unknown kid: not one per registry re-read
    }

    private static string Jwks(params SigningKey[] keys) =>
        System.Text.Json.JsonSerializer.Serialize(new JsonWebKeySetDocument { Keys = [.. keys.Select(k => k.PublicKey.Jwk)] }, EmaJsonContext.Default.JsonWebKeySetDocument);

    private sealed class JwksHandler : HttpMessageHandler
    {
        private int _count;

        public string Json { get; set; } = "{\"keys\":[]}";

        public int Count => _count;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(Json, Encoding.UTF8, "application/json") });
        }
    }

    private sealed class OneIssuerStore(TrustedIssuerRegistration registration) : IAuthorizationServerStore
    {
        // A fresh copy per read, as the database gives: equal by value, never the same object.
        public Task<TrustedIssuerRegistration?> FindTrustedIssuerAsync(string issuer, CancellationToken cancellationToken) =>
            Task.FromResult<TrustedIssuerRegistration?>(registration with { AllowedAlgorithms = [.. registration.AllowedAlgorithms] });

        public Task<bool> CreateTenantAsync(Tenant tenant, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<IReadOnlyList<Tenant>> ListTenantsAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<TrustedIssuerRegistration>> ListTrustedIssuersAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<bool> CreateTrustedIssuerAsync(TrustedIssuerRegistration issuer, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<bool> SetTrustedIssuerEnabledAsync(string issuer, bool enabled, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<ClientApplication>> ListClientsAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<bool> CreateClientAsync(ClientApplication client, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<bool> SetClientEnabledAsync(string clientId, bool enabled, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<bool> SetClientSecretHashAsync(string clientId, string secretHash, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<bool> SetClientJwksAsync(string clientId, string jwks, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<bool> SetClientRequireDpopAsync(string clientId, bool requireDpop, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<bool> SetTrustedIssuerTenantAsync(string issuer, string? issuerTenant, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<IReadOnlyList<ProtectedResource>> ListResourcesAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<bool> CreateResourceAsync(ProtectedResource resource, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<bool> DeleteResourceAsync(string id, CancellationToken cancellationToken, AuditEvent? auditRecord = null) => throw new NotSupportedException();

        public Task<Account?> FindAccountAsync(string tenantId, string issuer, string subject, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<Account> GetOrCreateAccountAsync(Account candidate, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
