using Ema.Server.Security;
using Microsoft.AspNetCore.DataProtection;

namespace Ema.Server.AspNetCore.Hosting;

/// <summary>Encrypts signing keys at rest with ASP.NET Core Data Protection (decision 18).</summary>
internal sealed class DataProtectionKeyProtector : IKeyProtector
{
    private readonly IDataProtector _protector;

    public DataProtectionKeyProtector(IDataProtectionProvider provider)
        : this(provider.CreateProtector("Ema.SigningKeys.v1"))
    {
    }

    private DataProtectionKeyProtector(IDataProtector protector) => _protector = protector;

    // Data Protection's purpose chain: a sub-purpose derives its own subkeys (ISO/IEC 11770-style key derivation).
    public IKeyProtector ForPurpose(string purpose) => new DataProtectionKeyProtector(_protector.CreateProtector(purpose));

    public byte[] Protect(byte[] plaintext)
    {
        try
        {
            return _protector.Protect(plaintext);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    public byte[] Unprotect(byte[] protectedData) => _protector.Unprotect(protectedData);
}
