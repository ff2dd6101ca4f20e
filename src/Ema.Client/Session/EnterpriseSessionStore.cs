using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;

namespace Ema.Client.Session;

/// <summary>What loading the session found.</summary>
public enum SessionLoadStatus
{
    Loaded,
    None,

    /// <summary>The file exists but cannot be decrypted with this key ring: copied from another machine or user, or
    /// the key ring was removed. The user signs in again.</summary>
    Unreadable,
}

/// <summary>
/// The enterprise session on disk (spec §2(a)38: tokens protected at rest): encrypted with ASP.NET Core Data Protection
/// under a key ring in the same folder, the folder mode 700 and the file mode 600, written atomically (temp file +
/// rename) so a crash never leaves half a session. A copy of the file is useless without this folder's key ring; on
/// Linux and macOS Data Protection keeps that key ring unencrypted, so the folder as a whole (mode 700) is the trust
/// boundary, as it is for any CLI's credentials (platform keychains are not used yet).
/// </summary>
public sealed class EnterpriseSessionStore
{
    private const string Purpose = "Ema.Client.EnterpriseSession.v1";
    private readonly string _file;
    private readonly string _lockFile;
    private readonly IDataProtector _protector;

    /// <param name="directory">The profile folder, e.g. <c>~/.config/ema</c>.</param>
    public EnterpriseSessionStore(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = directory;
        CreatePrivateDirectory(directory);
        var keys = Path.Combine(directory, "keys");
        CreatePrivateDirectory(keys);
        _file = Path.Combine(directory, "session.bin");
        _lockFile = Path.Combine(directory, "session.lock");
        _protector = DataProtectionProvider.Create(new DirectoryInfo(keys), b => b.SetApplicationName("ema-client")).CreateProtector(Purpose);
    }

    /// <summary>The profile folder.</summary>
    public string Directory { get; }

    /// <summary>The session file's path.</summary>
    public string FilePath => _file;

    /// <summary>Loads the session.</summary>
    public (SessionLoadStatus Status, EnterpriseSession? Session) Load()
    {
        if (!File.Exists(_file))
        {
            return (SessionLoadStatus.None, null);
        }

        try
        {
            var json = _protector.Unprotect(File.ReadAllBytes(_file));
            return (SessionLoadStatus.Loaded, JsonSerializer.Deserialize(json, ClientJsonContext.Default.EnterpriseSession));
        }
        catch (Exception ex) when (ex is CryptographicException or JsonException)
        {
            return (SessionLoadStatus.Unreadable, null);
        }
    }

    /// <summary>Saves the session atomically, readable by the owner only.</summary>
    public void Save(EnterpriseSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        var bytes = _protector.Protect(JsonSerializer.SerializeToUtf8Bytes(session, ClientJsonContext.Default.EnterpriseSession));
        var temp = _file + "." + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)) + ".tmp";
        var fileOptions = OwnerOnly(FileMode.CreateNew, FileAccess.Write, FileShare.None); // 600 from the first byte

        using (var stream = new FileStream(temp, fileOptions))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, _file, overwrite: true);
    }

    /// <summary>How many 50 ms steps a process waits for the profile lock: two minutes, longer than an HTTP request's
    /// 100-second default timeout, so a holder stuck in a slow renewal times out before its waiters do.</summary>
    public const int LockAttempts = 2_400;

    /// <summary>
    /// Takes the profile's lock, held until the result is disposed. Every write of the session — a renewal, a sign-in, a
    /// sign-out — happens under it, so two <c>ema</c> processes on one profile (say, a long-running <c>ema bridge</c> and
    /// an <c>ema call</c>) never both present the same refresh token — the IdP rotates it and takes a second use for a
    /// stolen token's replay, revoking the whole family (RFC 9700 §4.14.2) — and a renewal never brings back a session
    /// another process signed out of. An OS file lock (<c>flock</c> on Unix), so a process that dies releases it. Not
    /// reliable on network file systems that emulate <c>flock</c> per client, nor with
    /// <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c> set: keep the profile on a local disk.
    /// </summary>
    /// <exception cref="IOException">Another process held the lock for all of <paramref name="attempts"/> steps.</exception>
    public async Task<IDisposable> LockAsync(CancellationToken cancellationToken, int attempts = LockAttempts)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (TryLock(attempt, attempts) is { } held)
            {
                return held;
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>As <see cref="LockAsync"/>, for the synchronous entry points (a session adopted from the host).</summary>
    public IDisposable Lock(int attempts = LockAttempts)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (TryLock(attempt, attempts) is { } held)
            {
                return held;
            }

            Thread.Sleep(50);
        }
    }

    private FileStream? TryLock(int attempt, int attempts)
    {
        var options = OwnerOnly(FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        try
        {
            // FileShare.None is an exclusive flock(2) on Unix — per open file, so two opens in one process exclude each
            // other too — and a sharing violation on Windows: either way, one holder.
            return new FileStream(_lockFile, options);
        }
        catch (IOException) when (attempt < attempts)
        {
            return null;
        }
        catch (IOException ex)
        {
            throw new IOException("Another ema process has held the profile lock (" + _lockFile + ") for two minutes; try again.", ex);
        }
    }

    // Created readable and writable by the owner only (mode 600) where the platform has modes.
    private static FileStreamOptions OwnerOnly(FileMode mode, FileAccess access, FileShare share)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return options;
    }

    /// <summary>Signs out locally: the session file is deleted.</summary>
    public bool Delete()
    {
        if (!File.Exists(_file))
        {
            return false;
        }

        File.Delete(_file);
        return true;
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(path);
            return;
        }

        System.IO.Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); // tighten an existing folder too
    }
}
