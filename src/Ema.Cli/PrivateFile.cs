namespace Ema.Cli;

/// <summary>Files only the current user can read (mode 600 on Unix): keys, credentials, sessions.</summary>
internal static class PrivateFile
{
    public static FileStream Create(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var stream = new FileStream(path, options);
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
