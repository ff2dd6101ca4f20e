namespace Ema.Storage;

/// <summary>
/// Folders and files only the service account can read (700 and 600 on Unix; Windows keeps its inherited ACLs): the data
/// folder, the database, the audit seal key and head mark. Modes are given at creation, so no byte is ever readable by
/// others; an existing folder or file keeps the mode it has.
/// </summary>
public static class OwnerOnly
{
    /// <summary>Creates <paramref name="path"/> (and missing parents) unless it exists.</summary>
    public static void CreateDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>Options to open a file for writing that, when created, is readable by its owner only.</summary>
    public static FileStreamOptions FileOptions(FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return options;
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> to <paramref name="path"/> whole: under a name of its own, flushed to disk, then
    /// moved into place — replacing what is there, or (<paramref name="replace"/> false) failing with an
    /// <see cref="IOException"/> if another writer got there first. A reader sees the old file or the new one, never part.
    /// </summary>
    public static void WriteWhole(string path, ReadOnlySpan<byte> bytes, bool replace)
    {
        var temporary = path + "." + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)) + ".tmp";
        try
        {
            using (var file = new FileStream(temporary, FileOptions(FileMode.CreateNew)))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: replace);
            SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    // The move is a change to the folder: until the folder itself is flushed, a power loss can undo it (fsync(2): "an
    // explicit fsync() on a file descriptor for the directory is also needed"). .NET opens no folder as a file, hence libc.
    private static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        var descriptor = NativeMethods.open(directory, NativeMethods.OpenReadOnly);
        if (descriptor < 0)
        {
            throw new IOException($"Cannot open the folder {directory} to flush it (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (NativeMethods.fsync(descriptor) != 0)
            {
                throw new IOException($"Cannot flush the folder {directory} (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = NativeMethods.close(descriptor);
        }
    }

    private static class NativeMethods
    {
        public const int OpenReadOnly = 0; // O_RDONLY: a folder opens read-only, which is all fsync needs

#pragma warning disable SYSLIB1054, CA5392 // three calls on a rare path; LibraryImport would need unsafe code in this project
        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, CharSet = System.Runtime.InteropServices.CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        public static extern int open(string path, int flags);

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        public static extern int fsync(int descriptor);

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        public static extern int close(int descriptor);
#pragma warning restore SYSLIB1054, CA5392
    }
}
