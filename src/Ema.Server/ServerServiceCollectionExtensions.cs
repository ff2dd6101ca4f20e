using Ema.Server.Clients;
using Ema.Server.Grants;
using Ema.Server.Grants.AuthorizationCode;
using Ema.Server.Grants.RefreshToken;
using Ema.Server.Grants.TokenExchange;
using Ema.Server.IdentityProvider;
using Ema.Server.Options;
using Ema.Server.Policy;
using Ema.Server.Security;
using Ema.Tokens.Keys;
using Microsoft.Extensions.DependencyInjection;
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
        services.TryAddSingleton(new PasswordHasher());
        services.TryAddSingleton<ClientAuthenticator>();
        services.TryAddSingleton<IAccessPolicy, EntitlementAccessPolicy>();
        services.TryAddSingleton<SigningKeyManager>();
        services.TryAddSingleton(sp => new IdentityProviderTokens(
            sp.GetRequiredService<IOptions<IdentityProviderOptions>>(),
            sp.GetRequiredService<SigningKeyManager>().GetLoaded(IdentityProviderTokens.KeyPurpose),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new VerifiedSubjectTokenCache(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.VerifiedSubjectTokenCacheSize));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGrantHandler, AuthorizationCodeGrantHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGrantHandler, RefreshTokenGrantHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGrantHandler, TokenExchangeGrantHandler>());
        services.TryAddSingleton<GrantRegistry>();
        services.TryAddSingleton<TokenEndpointService>();
        services.TryAddSingleton<AuthorizationEndpointService>();
        services.AddSingleton<IStartupTask>(sp => new LoadKeysStartupTask(
            sp.GetRequiredService<SigningKeyManager>(),
            new SigningKeyRingOptions
            {
                Algorithm = sp.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.SigningAlgorithm,
                RetiredKeyRetention = sp.GetRequiredService<IOptions<IdentityProviderOptions>>().Value.IdTokenLifetime + TimeSpan.FromMinutes(5),
            }));
        return services;
    }

    private sealed class LoadKeysStartupTask(SigningKeyManager keys, SigningKeyRingOptions options) : IStartupTask
    {
        public int Order => 100;

        public Task RunAsync(CancellationToken cancellationToken) => keys.GetRingAsync(IdentityProviderTokens.KeyPurpose, options, cancellationToken);
    }
}
