using Ema.Client;
using Ema.Client.Session;

namespace Ema.Cli;

/// <summary><c>ema login --device</c>: prints where to go and the code to enter, then waits.</summary>
internal static class DeviceSignIn
{
    public static Task<EnterpriseSession> RunAsync(EmaClient client, TextWriter output, CancellationToken cancellationToken) =>
        client.SignInWithDeviceAsync(
            async device => await output.WriteLineAsync(
                $"On a device with a browser, open {device.VerificationUri} and enter the code {device.UserCode}" +
                (device.VerificationUriComplete is { } complete ? $"\n(or open {complete})" : string.Empty) +
                $"\nWaiting up to {device.ExpiresIn / 60} minutes…"),
            cancellationToken);
}
