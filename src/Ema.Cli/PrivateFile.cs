namespace Ema.Cli;

/// <summary>Files only the current user can read (mode 600 on Unix): keys, credentials, sessions.</summary>
internal static class PrivateFile
{
    public static FileStream Create(string path)
    {
        var stream = new FileStream(path, Ema.Storage.OwnerOnly.FileOptions(FileMode.Create));
        if (!OperatingSystem.IsWindows())
        {
            // UnixCreateMode applies only when the file is new; tighten an existing file too.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return stream;
    }

    public static void WriteAllText(string path, string text)
    {
        using var stream = Create(path);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }
}
