using System.Collections.Concurrent;
using Ema.Server.Security;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.Infrastructure;

public partial class EmaServerFixture
{
    /// <summary>TOTP secrets (base32) of the users who have an authenticator (the demo admin's, and those enrolled in tests), by username.</summary>
    public ConcurrentDictionary<string, string> TotpSecrets { get; } = new(StringComparer.Ordinal);

    /// <summary>Enrols an authenticator for <paramref name="username"/> as an administrator would, and remembers its secret.</summary>
    public async Task EnrolTotpAsync(string username, string userId)
    {
        var base32 = await App.Services.GetRequiredService<IMfaStore>().EnrolNewAsync(App.Services.GetRequiredService<IKeyProtector>(), userId, default);
        Secrets.Add(base32);
        TotpSecrets[username] = base32;
    }
}
