using Ema.Server.Audit;
using Ema.Server.Stores;
using Ema.Storage.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Ema.Storage;

/// <summary>Registers the SQLite backend.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>Registers SQLite implementations of every store, the audit log, and the migration step.</summary>
    public static IServiceCollection AddEmaSqliteStorage(this IServiceCollection services, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new SqliteDatabase(new SqliteStorageOptions { DatabasePath = databasePath }, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SqliteDatabase>>()));
        services.TryAddSingleton<IDirectoryStore, SqliteDirectoryStore>();
        services.TryAddSingleton<IApplicationStore, SqliteApplicationStore>();
        services.TryAddSingleton<IEntitlementStore, SqliteEntitlementStore>();
        services.TryAddSingleton<IGrantStore, SqliteGrantStore>();
        services.TryAddSingleton<ISigningKeyStore, SqliteSigningKeyStore>();
        services.TryAddSingleton<SqliteAuditLog>();
        services.TryAddSingleton<IAuditSink>(sp => sp.GetRequiredService<SqliteAuditLog>());
        services.TryAddSingleton<IAuditReader>(sp => sp.GetRequiredService<SqliteAuditLog>());
        services.AddSingleton<Ema.Server.IStartupTask>(sp => new MigrationStartupTask(sp.GetRequiredService<SqliteDatabase>()));
        return services;
    }

    private sealed class MigrationStartupTask(SqliteDatabase db) : Ema.Server.IStartupTask
    {
        public int Order => 0;

        public Task RunAsync(CancellationToken cancellationToken) => db.MigrateAsync(cancellationToken);
    }
}
