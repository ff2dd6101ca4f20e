using Ema.Server.Audit;
using Ema.Server.Stores;
using Ema.Server.Stores.Caching;
using Ema.Storage.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Ema.Storage;

/// <summary>Registers the SQLite backend.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>Registers SQLite implementations of every store, the audit log, and the migration step.</summary>
    public static IServiceCollection AddEmaSqliteStorage(this IServiceCollection services, string databasePath, AuditSealUse sealUse = AuditSealUse.Write)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new SqliteDatabase(new SqliteStorageOptions { DatabasePath = databasePath }, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SqliteDatabase>>()));
        services.TryAddSingleton(new StoreCacheOptions());
        services.TryAddSingleton<SqliteDirectoryStore>();
        services.TryAddSingleton<SqliteApplicationStore>();
        services.TryAddSingleton<SqliteEntitlementStore>();
        services.TryAddSingleton<SqliteGrantStore>();

        // Read-mostly data is served through TTL caches (writes through this process invalidate immediately).
        services.TryAddSingleton<IDirectoryStore>(sp => Cached<IDirectoryStore>(sp, sp.GetRequiredService<SqliteDirectoryStore>(), (i, t, o) => new CachingDirectoryStore(i, t, o)));
        services.TryAddSingleton<IApplicationStore>(sp => Cached<IApplicationStore>(sp, sp.GetRequiredService<SqliteApplicationStore>(), (i, t, o) => new CachingApplicationStore(i, t, o)));
        services.TryAddSingleton<IEntitlementStore>(sp => Cached<IEntitlementStore>(sp, sp.GetRequiredService<SqliteEntitlementStore>(), (i, t, o) => new CachingEntitlementStore(i, t, o)));
        services.TryAddSingleton<IGrantStore>(sp => Cached<IGrantStore>(sp, sp.GetRequiredService<SqliteGrantStore>(), (i, t, o) => new CachingGrantStore(i, t, o)));
        services.TryAddSingleton<ISigningKeyStore, SqliteSigningKeyStore>();
        services.TryAddSingleton<SqliteAuthorizationServerStore>();
        services.TryAddSingleton<IAuthorizationServerStore>(sp => Cached<IAuthorizationServerStore>(sp, sp.GetRequiredService<SqliteAuthorizationServerStore>(), (i, t, o) => new CachingAuthorizationServerStore(i, t, o)));
        services.TryAddSingleton<Ema.Tokens.Replay.IReplayCache, SqliteReplayCache>();
        services.TryAddSingleton<Ema.Server.Policy.IPolicyStore, SqlitePolicyStore>();
        services.TryAddSingleton<Ema.Server.Security.IMfaStore, SqliteMfaStore>();
        services.TryAddSingleton<SqliteWriteQueue>();
        services.TryAddSingleton<SqliteAuditLog>();
        services.TryAddSingleton<IAuditSink>(sp => sp.GetRequiredService<SqliteAuditLog>());
        services.TryAddSingleton<IAuditReader>(sp => sp.GetRequiredService<SqliteAuditLog>());
        services.TryAddSingleton<IAuditTrail>(sp => sp.GetRequiredService<SqliteAuditLog>());
        services.AddSingleton<Ema.Server.IStartupTask>(sp => new MigrationStartupTask(sp.GetRequiredService<SqliteDatabase>()));
        services.AddSingleton<Ema.Server.IStartupTask>(sp => new AuditSealStartupTask(sp, databasePath, sealUse));
        return services;
    }

    private static T Cached<T>(IServiceProvider sp, T inner, Func<T, TimeProvider, StoreCacheOptions, T> wrap)
    {
        var options = sp.GetRequiredService<StoreCacheOptions>();
        return options.Ttl > TimeSpan.Zero ? wrap(inner, sp.GetRequiredService<TimeProvider>(), options) : inner;
    }

    // After the migrations and the key ring's own check (90), before anything writes a record: where the host keeps keys
    // encrypted at rest (an IKeyProtector: Ema.Server.AspNetCore's Data Protection), the audit blocks are sealed.
    private sealed class AuditSealStartupTask(IServiceProvider services, string databasePath, AuditSealUse sealUse) : Ema.Server.IStartupTask
    {
        public int Order => 95;

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            if (services.GetService<Ema.Server.Security.IKeyProtector>() is not { } protector)
            {
                return;
            }

            var log = services.GetRequiredService<SqliteAuditLog>();
            if (sealUse == AuditSealUse.VerifyOnly)
            {
                await log.UseSealForVerificationAsync(AuditSeal.LoadIfPresent(databasePath, protector), cancellationToken).ConfigureAwait(false);
                return;
            }

            var seal = await AuditSeal.LoadOrCreateAsync(databasePath, services.GetRequiredService<SqliteDatabase>(), protector, services.GetRequiredService<ILogger<SqliteAuditLog>>(), services.GetService<TimeProvider>() ?? TimeProvider.System, cancellationToken).ConfigureAwait(false);
            await log.UseSealAsync(seal, cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed class MigrationStartupTask(SqliteDatabase db) : Ema.Server.IStartupTask
    {
        public int Order => 0;

        public Task RunAsync(CancellationToken cancellationToken) => db.MigrateAsync(cancellationToken);
    }
}

/// <summary>How a process uses the audit trail's seal.</summary>
public enum AuditSealUse
{
    /// <summary>A process that writes records: loads the seal key (made for a new trail), holds the writers' lock, marks the head.</summary>
    Write,

    /// <summary>
    /// A reader (<c>ema audit verify|export|tail</c> on a data folder): checks seals with the key if it is there, writes
    /// nothing — no key, no head mark, no record; a missing key file on a trail with records is a verification finding.
    /// </summary>
    VerifyOnly,
}
