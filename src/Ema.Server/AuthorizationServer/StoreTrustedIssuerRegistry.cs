using System.Collections.Concurrent;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Stores;
using Ema.Tokens.Issuers;
using Ema.Tokens.Keys;
using Microsoft.Extensions.Options;

namespace Ema.Server.AuthorizationServer;

/// <summary>The HTTP client used to fetch trusted issuers' metadata and JWKS (configured by the host: TLS trust, timeouts).</summary>
public sealed class JwksHttpClient(HttpClient client)
{
    public HttpClient Client => client;
}

/// <summary>
/// Trusted issuers from the store. Each issuer's <see cref="TrustedIssuer"/> — and so its key source with its JWKS cache
/// and refetch budget — lives as long as its registration is unchanged; a changed registration gets a new one.
/// </summary>
public sealed class StoreTrustedIssuerRegistry : ITrustedIssuerRegistry
{
    private readonly IAuthorizationServerStore _store;
    private readonly JwksHttpClient _http;
    private readonly TimeProvider _time;
    private readonly AuthorizationServerOptions _options;
    private readonly ConcurrentDictionary<string, Entry> _issuers = new(StringComparer.Ordinal);

    public StoreTrustedIssuerRegistry(IAuthorizationServerStore store, JwksHttpClient http, TimeProvider time, IOptions<AuthorizationServerOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _http = http;
        _time = time;
        _options = options.Value;
    }

    private sealed record Entry(TrustedIssuerRegistration? Registration, TrustedIssuer? Issuer, DateTimeOffset CheckedAt);

    /// <inheritdoc />
    public async ValueTask<TrustedIssuer?> FindAsync(string issuer, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_issuers.TryGetValue(issuer, out var entry) && now - entry.CheckedAt < _options.IssuerRefreshInterval)
        {
            return entry.Issuer;
        }

        var registration = await _store.FindTrustedIssuerAsync(issuer, cancellationToken).ConfigureAwait(false);
        if (registration is not null && !registration.Enabled)
        {
            registration = null;
        }

        var trusted = entry is not null && Equals(entry.Registration, registration) ? entry.Issuer : Build(registration);
        _issuers[issuer] = new Entry(registration, trusted, now);
        return trusted;
    }

    /// <summary>The registration behind a trusted issuer (tenant, JIT), as last read.</summary>
    public TrustedIssuerRegistration? Registration(string issuer) => _issuers.TryGetValue(issuer, out var entry) ? entry.Registration : null;

    private TrustedIssuer? Build(TrustedIssuerRegistration? registration)
    {
        if (registration is null)
        {
            return null;
        }

        IIssuerKeySource keys = registration switch
        {
            { InlineJwks: { } jwks } => StaticKeySource.FromJwks(jwks),
            { JwksUri: { } jwksUri } => new HttpJwksKeySource(_http.Client, new HttpJwksKeySourceOptions { JwksUri = new Uri(jwksUri), Issuer = registration.Issuer, AllowHttpOnLoopback = _options.AllowHttpOnLoopback, RefreshInterval = _options.IssuerKeysRefreshInterval }, _time),
            { MetadataUri: { } metadata } => new HttpJwksKeySource(_http.Client, new HttpJwksKeySourceOptions { MetadataUri = new Uri(metadata), Issuer = registration.Issuer, AllowHttpOnLoopback = _options.AllowHttpOnLoopback, RefreshInterval = _options.IssuerKeysRefreshInterval }, _time),
            _ => throw new InvalidOperationException($"Trusted issuer '{registration.Issuer}' has no key location."),
        };
        return new TrustedIssuer
        {
            Issuer = registration.Issuer,
            Keys = keys,
            AllowedAlgorithms = registration.AllowedAlgorithms,
            AllowedClientIds = registration.AllowedClientIds?.ToHashSet(StringComparer.Ordinal),
            ClockSkew = registration.ClockSkew,
            MaxAge = registration.MaxAge,
            TolerateAudienceTrailingSlash = registration.TolerateAudienceTrailingSlash,
            LocalTenantId = registration.TenantId,
            Tenant = registration.IssuerTenant,
        };
    }
}

/// <summary>The authorization server's client directory (distinct from the IdP's).</summary>
public sealed class AuthorizationServerClientDirectory(IAuthorizationServerStore store) : IClientDirectory
{
    public Task<ClientApplication?> FindClientAsync(string clientId, CancellationToken cancellationToken) => store.FindClientAsync(clientId, cancellationToken);
}
