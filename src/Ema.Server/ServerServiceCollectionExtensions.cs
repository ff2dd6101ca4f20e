using Ema.Server.AuthorizationServer;
using Ema.Server.Clients;
using Ema.Server.Grants.JwtBearer;
using Ema.Server.Grants;
using Ema.Server.Grants.AuthorizationCode;
using Ema.Server.Grants.RefreshToken;
using Ema.Server.Grants.TokenExchange;
using Ema.Server.Grants.DeviceCode;
using Ema.Server.IdentityProvider;
using Ema.Server.Options;
using Ema.Server.Policy;
using Ema.Server.Security;
using Ema.Tokens.Dpop;
using Ema.Tokens.Replay;
using Ema.Tokens.Keys;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Ema.Server;

/// <summary>Registers Ema's host-agnostic services.</summary>
public static class ServerServiceCollectionExtensions
{
    /// <summary>
    /// Registers the enterprise IdP role: options (validated at start-up), client authentication, the access-policy
    /// evaluation point (entitlements v1; replace <see cref="IAccessPolicy"/> to change it), the grant registry with the
    /// authorization-code, refresh-token and token-exchange handlers, and the IdP's signing keys. Stores come from a
    /// storage package (for example <c>AddEmaSqliteStorage</c>); an <see cref="IKeyProtector"/> from the host.
    /// </summary>
    public static IServiceCollection AddEmaIdentityProvider(this IServiceCollection services, Action<IdentityProviderOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<IdentityProviderOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IdentityProviderOptions>, IdentityProviderOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEmaMetrics();
        services.TryAddDpopProofValidator();
        services.AddKeyedSingleton(EmaRoles.IdentityProvider, (sp, _) => new ClientAuthenticator(
            sp.GetRequiredService<Stores.IApplicationStore>(),
            AssertionVerifier(sp, sp.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.Issuer, Ema.Protocol.RevocationPaths.Revoke, Ema.Protocol.DevicePaths.Authorization)));
        services.TryAddSingleton(new PasswordHasher());
        services.TryAddSingleton<ClientAuthenticator>();
        // The policy file when configured, else the newest stored policy version, else entitlements v1.
        services.TryAddSingleton<IAccessPolicy>(sp => AccessPolicyFactory.Create(
            sp.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.PolicyFile,
            sp.GetService<IPolicyStore>(),
            sp.GetRequiredService<Stores.IApplicationStore>(),
            sp.GetRequiredService<Stores.IEntitlementStore>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<ManagedAccessPolicy>()));
        services.TryAddSingleton<SigningKeyManager>();
        services.TryAddSingleton(sp => new IdentityProviderTokens(
            sp.GetRequiredService<IOptions<IdentityProviderOptions>>(),
            sp.GetRequiredService<SigningKeyManager>().GetLoaded(IdentityProviderTokens.KeyPurpose),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new VerifiedSubjectTokenCache(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.VerifiedSubjectTokenCacheSize));
        services.TryAddSingleton<AuthorizationCodeGrantHandler>();
        services.TryAddSingleton<RefreshTokenGrantHandler>();
        services.TryAddSingleton<TokenExchangeGrantHandler>();
        services.TryAddSingleton<DeviceAuthorizationService>();
        services.TryAddSingleton<DeviceCodeGrantHandler>();

        // The IdP's token endpoint: its own grants and its own client directory (style rule 1: dispatch by registry).
        services.AddKeyedSingleton(EmaRoles.IdentityProvider, (sp, _) => new TokenEndpointService(
            new GrantRegistry([sp.GetRequiredService<AuthorizationCodeGrantHandler>(), sp.GetRequiredService<RefreshTokenGrantHandler>(), sp.GetRequiredService<TokenExchangeGrantHandler>(), sp.GetRequiredService<DeviceCodeGrantHandler>()]),
            sp.GetRequiredKeyedService<ClientAuthenticator>(EmaRoles.IdentityProvider),
            sp.GetRequiredService<Audit.IAuditSink>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<TokenEndpointService>>(),
            sp.GetService<EmaMetrics>(),
            EmaRoles.IdentityProvider,
            sp.GetRequiredService<DpopProofValidator>(),
            sp.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.Issuer + "/token"));
        services.TryAddSingleton(sp => new TokenRevocationService(
            sp.GetRequiredKeyedService<ClientAuthenticator>(EmaRoles.IdentityProvider),
            sp.GetRequiredService<Stores.IGrantStore>(),
            sp.GetRequiredService<Audit.IAuditSink>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<TokenRevocationService>>()));
        services.TryAddSingleton<AuthorizationEndpointService>();
        services.AddSingleton<IStartupTask>(sp => new LoadKeysStartupTask(
            sp.GetRequiredService<SigningKeyManager>(),
            IdentityProviderTokens.KeyPurpose,
            new SigningKeyRingOptions
            {
                Algorithm = sp.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.SigningAlgorithm,
                RetiredKeyRetention = sp.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.IdTokenLifetime + TimeSpan.FromMinutes(5),
            }));
        return services;
    }

    /// <summary>
    /// <see cref="EmaMetrics"/> where the host has metrics (<c>IMeterFactory</c>: every ASP.NET Core host does, or
    /// <c>services.AddMetrics()</c>); without them nothing is measured and nothing else changes.
    /// </summary>
    public static IServiceCollection TryAddEmaMetrics(this IServiceCollection services)
    {
        services.TryAddSingleton(sp => sp.GetService<System.Diagnostics.Metrics.IMeterFactory>() is { } meters ? new EmaMetrics(meters) : null!);
        return services;
    }

    /// <summary>
    /// Registers the authorization-server role for MCP servers: jwt-bearer redemption of ID-JAGs from trusted issuers
    /// (in the store), RFC 9068 access tokens, its own client directory and signing keys. The host supplies a
    /// <see cref="JwksHttpClient"/> (TLS trust for issuers' JWKS) and the storage package the stores and replay cache.
    /// </summary>
    public static IServiceCollection AddEmaAuthorizationServer(this IServiceCollection services, Action<AuthorizationServerOptions>? configure = null)
    {
        services.TryAddEmaMetrics();
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<AuthorizationServerOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AuthorizationServerOptions>, AuthorizationServerOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddDpopProofValidator();
        services.AddKeyedSingleton(EmaRoles.AuthorizationServer, (sp, _) => new ClientAuthenticator(
            new AuthorizationServerClientDirectory(sp.GetRequiredService<Stores.IAuthorizationServerStore>()),
            AssertionVerifier(sp, sp.GetRequiredService<IOptions<AuthorizationServerOptions>>().Value.Issuer)));
        services.TryAddSingleton<SigningKeyManager>();
        services.TryAddSingleton<StoreTrustedIssuerRegistry>();
        services.TryAddSingleton(sp => new AuthorizationServerTokens(
            sp.GetRequiredService<IOptions<AuthorizationServerOptions>>(),
            sp.GetRequiredService<SigningKeyManager>().GetLoaded(AuthorizationServerTokens.KeyPurpose),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<JwtBearerGrantHandler>();
        services.AddKeyedSingleton(EmaRoles.AuthorizationServer, (sp, _) => new TokenEndpointService(
            new GrantRegistry([sp.GetRequiredService<JwtBearerGrantHandler>()]),
            sp.GetRequiredKeyedService<ClientAuthenticator>(EmaRoles.AuthorizationServer),
            sp.GetRequiredService<Audit.IAuditSink>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<TokenEndpointService>>(),
            sp.GetService<EmaMetrics>(),
            EmaRoles.AuthorizationServer,
            sp.GetRequiredService<DpopProofValidator>(),
            sp.GetRequiredService<IOptions<AuthorizationServerOptions>>().Value.Issuer + "/token"));
        services.AddSingleton<IStartupTask>(sp => new LoadKeysStartupTask(
            sp.GetRequiredService<SigningKeyManager>(),
            AuthorizationServerTokens.KeyPurpose,
            new SigningKeyRingOptions
            {
                Algorithm = sp.GetRequiredService<IOptions<AuthorizationServerOptions>>().Value.SigningAlgorithm,
                RetiredKeyRetention = sp.GetRequiredService<IOptions<AuthorizationServerOptions>>().Value.AccessTokenLifetime + TimeSpan.FromMinutes(5),
            }));
        return services;
    }

    private sealed class LoadKeysStartupTask(SigningKeyManager keys, string purpose, SigningKeyRingOptions options) : IStartupTask
    {
        public int Order => 100;

        public Task RunAsync(CancellationToken cancellationToken) => keys.GetRingAsync(purpose, options, cancellationToken);
    }

    // DPoP proofs (RFC 9449) at the token endpoints: their jti values are remembered in memory for the proofs' short
    // window (a proof is single-use per key, §11.1) — apart from the assertions' replay records, which must survive a restart.
    private static void TryAddDpopProofValidator(this IServiceCollection services) =>
        services.TryAddSingleton(sp => new DpopProofValidator(new InMemoryReplayCache(sp.GetRequiredService<TimeProvider>()), sp.GetRequiredService<TimeProvider>()));

    // private_key_jwt (RFC 7523 §3 item 3): aud may name the issuer, the token endpoint, or the other endpoint the
    // assertion is posted to (OIDC Core §9 names "the URL of the endpoint"); assertion ids are remembered in the host's
    // replay cache (persistent with Ema.Storage), else in memory.
    private static ClientAssertionVerifier AssertionVerifier(IServiceProvider sp, string issuer, params string[] otherEndpoints) => new(
        sp.GetService<IReplayCache>() ?? new InMemoryReplayCache(sp.GetRequiredService<TimeProvider>()),
        sp.GetRequiredService<TimeProvider>(),
        [issuer, issuer + "/token", .. otherEndpoints.Select(path => issuer + path)]);
}
