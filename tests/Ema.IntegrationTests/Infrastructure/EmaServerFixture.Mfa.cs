using System.Collections.Concurrent;

namespace Ema.IntegrationTests.Infrastructure;

public partial class EmaServerFixture
{
    /// <summary>TOTP secrets (base32) of the users who enrolled an authenticator during the tests, by username.</summary>
    public ConcurrentDictionary<string, string> TotpSecrets { get; } = new(StringComparer.Ordinal);
}
