using System.Data.Common;
using System.Reflection;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Ema.Storage;

/// <summary>Options of the SQLite backend.</summary>
public sealed class SqliteStorageOptions
{
    /// <summary>Path of the database file.</summary>
    public string DatabasePath { get; set; } = "ema.db";
}

/// <summary>
/// The SQLite database: opens connections (pooled by Microsoft.Data.Sqlite) and applies the embedded migrations in
/// order, each in its own transaction, recording them in <c>schema_version</c>.
/// </summary>
public sealed partial class SqliteDatabase
{
    private readonly string _connectionString;
    private readonly ILogger<SqliteDatabase> _logger;
    private readonly TimeProvider _time;

    public SqliteDatabase(SqliteStorageOptions options, TimeProvider time, ILogger<SqliteDatabase> logger)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        ArgumentNullException.ThrowIfNull(options);
        var directory = Path.GetDirectoryName(Path.GetFullPath(options.DatabasePath));
        CreatePrivately(directory, options.DatabasePath);

        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = options.DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
            ForeignKeys = true,
        }.ToString();
        _logger = logger;
    }

    /// <summary>
    /// A new data folder is readable by its owner only (700), and so is a new database file (600) — and with it SQLite's
    /// WAL and shared-memory files, which take the database file's mode: they hold password and secret hashes, encrypted
    /// keys and the audit trail's personal data. An existing folder or file keeps the mode it has.
    /// </summary>
    private static void CreatePrivately(string? directory, string databasePath)
    {
        if (!string.IsNullOrEmpty(directory))
        {
            OwnerOnly.CreateDirectory(directory);
        }

        if (databasePath.StartsWith(':') || File.Exists(databasePath))
        {
            return;
        }

        try
        {
            // An empty file is a new database to SQLite; created here only to give it its mode from the first byte.
            using var file = new FileStream(databasePath, OwnerOnly.FileOptions(FileMode.CreateNew));
        }
        catch (IOException) when (File.Exists(databasePath))
        {
            // Another process created it first.
        }
    }

    /// <summary>Opens a connection.</summary>
    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    /// <summary>Runs <paramref name="work"/> on a fresh connection.</summary>
    public async Task<T> RunAsync<T>(Func<SqliteConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await work(connection).ConfigureAwait(false);
        }
    }

    /// <summary>Runs <paramref name="work"/> in a transaction on a fresh connection; commits when it returns.</summary>
    public async Task<T> TransactAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // IMMEDIATE takes the write lock up front, so two transactions cannot both read then fail to upgrade.
            var transaction = connection.BeginTransaction(deferred: false);
            await using (transaction.ConfigureAwait(false))
            {
                var result = await work(connection, transaction).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
        }
    }

    /// <summary>Applies pending migrations; safe to call on every start.</summary>
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // WAL: readers never block the writer, and commits are durable with synchronous=FULL (set per connection).
            await connection.ExecuteAsync("PRAGMA journal_mode=WAL;").ConfigureAwait(false);
            await connection.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL);").ConfigureAwait(false);
            var applied = (await connection.QueryAsync<long>("SELECT version FROM schema_version").ConfigureAwait(false)).ToHashSet();
            foreach (var (version, name, sql) in Migrations())
            {
                if (applied.Contains(version))
                {
                    continue;
                }

                var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await using (transaction.ConfigureAwait(false))
                {
                    await connection.ExecuteAsync(sql, transaction: transaction).ConfigureAwait(false);
                    await connection.ExecuteAsync("INSERT INTO schema_version (version, applied_at) VALUES (@version, @now)", new { version, now = _time.GetUtcNow().ToUnixTimeMilliseconds() }, transaction).ConfigureAwait(false);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }

                LogMigrationApplied(_logger, version, name);
            }
        }
    }

    private static IEnumerable<(long Version, string Name, string Sql)> Migrations()
    {
        var assembly = typeof(SqliteDatabase).Assembly;
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.Contains(".Migrations.Sqlite.", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var fileName = resource[(resource.IndexOf(".Migrations.Sqlite.", StringComparison.Ordinal) + ".Migrations.Sqlite.".Length)..];
            var version = long.Parse(fileName[..fileName.IndexOf('_', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            yield return (version, fileName, reader.ReadToEnd());
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Applied schema migration {Version} ({Name})")]
    private static partial void LogMigrationApplied(ILogger logger, long version, string name);
}
