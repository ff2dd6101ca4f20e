using Ema.Server.Security;
using Microsoft.AspNetCore.DataProtection;

namespace Ema.Server.AspNetCore.Hosting;

/// <summary>Encrypts signing keys at rest with ASP.NET Core Data Protection (decision 18).</summary>
internal sealed class DataProtectionKeyProtector(IDataProtectionProvider provider) : IKeyProtector
{
    private readonly IDataProtector _protector = provider.CreateProtector("Ema.SigningKeys.v1");

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
