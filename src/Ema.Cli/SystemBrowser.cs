using System.Diagnostics;
using Ema.Client.SignIn;

namespace Ema.Cli;

/// <summary>Opens the sign-in page in the desktop's browser when there is one, and always prints the URL.</summary>
internal sealed class SystemBrowser(TextWriter output) : IBrowser
{
    public async Task OpenAsync(Uri authorizationUrl, CancellationToken cancellationToken)
    {
        await output.WriteLineAsync($"Sign in to continue. If no browser opened, visit:\n  {authorizationUrl.AbsoluteUri}").ConfigureAwait(false);
        var desktop = OperatingSystem.IsLinux()
            ? Environment.GetEnvironmentVariable("DISPLAY") is { Length: > 0 } || Environment.GetEnvironmentVariable("WAYLAND_DISPLAY") is { Length: > 0 }
            : OperatingSystem.IsWindows() || OperatingSystem.IsMacOS();
        if (!desktop)
        {
            return;
        }

        try
        {
            var opener = OperatingSystem.IsWindows() ? new ProcessStartInfo(authorizationUrl.AbsoluteUri) { UseShellExecute = true }
                : OperatingSystem.IsMacOS() ? new ProcessStartInfo("open", [authorizationUrl.AbsoluteUri])
                : new ProcessStartInfo("xdg-open", [authorizationUrl.AbsoluteUri]);
            using var process = Process.Start(opener);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // no opener installed: the printed URL is enough
        }
    }
}
