using System.Security.Cryptography;
using Ema.Protocol;
using Ema.Tokens.Keys;

namespace Ema.Testing;

/// <summary>
/// Fixed keys for tests, so failures reproduce byte for byte. They protect nothing: never use them outside tests.
/// </summary>
public static class TestKeys
{
    public const string IdpEcPkcs8 = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHKAODZXlTNSHZQl3bpVIJSpn+qI7h8lRF/BnPcia2CehRANCAASQqakS9H6tESPlK7mslTw4XvP+6DKkrD2vNP8iYqGjOjj2gkaSFSHTS8YwGwH59q9fvhoo/j4CPwYfu21hKloF";
    public const string OtherIdpEcPkcs8 = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpNCc0ejMmeZHLk05Vhx5DwhSCMRNIErAsbnRR0AqM+KhRANCAARvAKHruMOeJxjvJymj3NQHWoJqm4rJGIO38WH7x9FE+efjcXE5nPAuz0Oa9V4hGm6XtuG/TvYNuNM7NqyVGLdH";
    public const string AttackerEcPkcs8 = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgj5kaNp6hIU0SdEMHjnPRzv9ETC6I1NdJcOMr4txcfmmhRANCAAT2T1+jt9BzWKwJNMgffW54I8uyaAUcdb4y5y0DmHK6EILx2AuUyoOaqi6ofU4hPqjCvxawyDV+oiE6aJ/hN3T3";
    public const string IdpRsaPkcs8 = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDdFA09Tbk8zxRln3svw6441M83u5S/sw/R4GtnEliUzX4FtA1ThPPm5jETX6OO7dPA3usiUpJ+yy4CVlUz404lhxPemT0umnU8dNwny0hwe2IGPAF2MoUYnPlp6GbkJSjloz7HGnb11cbzPgmeD9k11B/iBLAXwSsQI9qk8fiOH27iAVAUDdtd2JaTdgBMIV/NphSz5YeojyNmueT5WJgXpyhVfbUT8z+01IaPRllYxixo2gsV/oK7bYGOWVQW91x3xWPvQRF4x1PSOfwjURQcItmAKcgBJYat6i1s3SiMzqzigg1T5zXFFHr93j9zXtiVa+NHbpLy4/O97uYsdspVAgMBAAECggEAAclDMB8cI4ciyY1nz+N7WV8yy2b7FS9rrczr4TnPOGiOn5osT2PwGon6lIb9yc5XGyRR7wWOxHJ8zS0IZDJuc7QrL226hlFeKB5jlvi3/ZyplpZOhrdyxteh1j638hjwwyY2ACLRGjxfbqCuMDY9kYdEuK1EBPUdFXTMs+92jCNmBnWdwuKgDHYlyvHzBEGH/YsQON2OFd3hvZyEtOmFF4VrTho6HkacoP2vgXMUbgsmX9Be4PyT2PFz38tGXycCehz432jxvFl2H+NSO37LcGpf6iXWTlpLG1mreWoNH5qT8lODnYdRqdyAsW/nhvp9RqeshRAOqUIRapGE0dURAQKBgQD9AR/dRGJRxwaVoUseXouRix4hWCLubI4BKu3q7H6PeHCffPi6Dkq4GVbAbQA70BRzxyrqTL0aPNAbBsB2ZryW5mPa8rvZyzuh2zK/Gplywz8KyZwK8WBSd/To8sa+HpaZsrvREcUq2+H7ioAGBd+O87EusNg6CsU2R2l8297XgQKBgQDfsigrvVpYeXmlhjxOXnQVxzgMiJbeKtte6bj3qpjDOTHIp25kaxOqXi4Akaxtuy3Fs/AP7vzVv/sKjNfhG55OFxYerc1tM51axUGuQYM0dravRr/M7KuZbehMaeD5OPB/DEIIgX/8UcoKepKy1ilZCH3x4AnKIQ8vQV7JmSt81QKBgQCCTIn0krtwEmg5t4/QXDDVDCjAU3vp/s5Dm7BcROAJU6Xs/Ze7epDQr3wWLgzowQlHd1OKx2q8kIU85gVI9TA7JvxWTpygViKoARPph/FvQU6+Z4aNvDI3RsBDGIVydJ5rGbnQuq4onIWN3o6Ai5XPMYIW4cz6V4Gpqq2ROEtUAQKBgQDUGB1Sa3SP0o1uTbo8K/4w7/TKnW8+MrBQa5Y+7PduknoLYAShHY1FyYoga/5rBEA/5X3F/bioCiDCPgwpmYAdVnJYoD3YPkoB2GmQCPmX8r7/rTsJ15RUIwtP+EugwUX1j+/EFNT+raW9Db6t5bTKf+y6OsvNZE77ZSW0S5AaCQKBgBnZtSvtgBay4BNQwofwGMLZZgD7Jdmj5w26cXe7lkF1BfrrdPGCBrygPrzu3L2ASEYgbnCpsk+1+HU4xnjH2kWKdVuidZmgIX1JEoauW0w1SL6VV9Fk74+F9nfO+cGBjOCPagQ8gAJzh197PoGmjUI2YKcycX71P3iy5SSPho+m";
    public const string WeakRsa1024Pkcs8 = "MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAMExwoaU3rUpyovLzwrLFZwCVvwjxLU2HXFoH5Ha9OXLvqZcD/ZebNRyddsSW9y7GzR8A1h9f9Jv53uLXhpgem3yWpn7fuFIB0AfvNKrX6206DdX3AyByRar6KOO+sGnkxhhlfh//RzcVy+zs3teQUxerw/b1lELG6Sf6+o96N3ZAgMBAAECgYAI2XippYQWFFX81VckjWzt+oV1g0Xtbw8mNLjNe5QgOpb/E9R/Wo/to1iWsl6W29NBMjUNBqKmRw35cMbcunKhJkPofhNK7+ue5gdnp0ISxk1MvAxoG8cwstt2rAw16m9kwtgF8nuXmR/lvxHplaI2GyxNPy33B7UNTSdxLw1rqQJBAOpZos5RwnJ4ac+eVphYAF2OmlQ2JgcFaab+WcbmPiG4BvVphX1iJW9qw95dJjrabntRIf890oVzUY+GVPnlgSMCQQDTCssBMSCbWhEDWCieDdBxcDVfpjpgN8giEN+RmTUDcQ16xjh3pNoHfM4o7/HqSLN5E9+UWTOBulErnzN/JLrTAkBZo6eum39xIbX3gG1HIIIjRySpCX1KOjvLcIcOmYsygp3GyXISH7SKBaCeMasp39tauBH0+8TG3vFXoN5oJ+1ZAkEAhYnVzIpGhKaoD0KwaNp649zJmR144LtLQusEXH/iQKw/iEl3H5XLdGNvnA3AOKwKDHobxiXvZo37oKubDT+ziwJBAIgqEJ+s38xb0T6K8Tg65FGlp1sPVKb/9Uxel78kLw4l5Eq6FIdpjiWpwnmtafNAloFBNBOX31EvQoba/RH7rg4=";

    /// <summary>The trusted IdP's ES256 key.</summary>
    public static SigningKey IdpEc() => SigningKey.ImportPkcs8(Convert.FromBase64String(IdpEcPkcs8), SecurityAlgorithms.EcdsaSha256);

    /// <summary>A second trusted IdP's ES256 key.</summary>
    public static SigningKey OtherIdpEc() => SigningKey.ImportPkcs8(Convert.FromBase64String(OtherIdpEcPkcs8), SecurityAlgorithms.EcdsaSha256);

    /// <summary>A key nobody trusts.</summary>
    public static SigningKey AttackerEc() => SigningKey.ImportPkcs8(Convert.FromBase64String(AttackerEcPkcs8), SecurityAlgorithms.EcdsaSha256);

    /// <summary>The trusted IdP's RSA-2048 key, for RS256 or PS256.</summary>
    public static SigningKey IdpRsa(string algorithm = SecurityAlgorithms.RsaSha256) => SigningKey.ImportPkcs8(Convert.FromBase64String(IdpRsaPkcs8), algorithm);

    /// <summary>An RSA-1024 key (too short to be accepted).</summary>
    public static RSA WeakRsa()
    {
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(Convert.FromBase64String(WeakRsa1024Pkcs8), out _);
        return rsa;
    }

    /// <summary>A key ring whose current key is <paramref name="current"/> (no next key).</summary>
    public static SigningKeyRing RingOf(SigningKey current, TimeProvider time) =>
        new([new SigningKeyEntry(current, SigningKeyStatus.Current, time.GetUtcNow())], new SigningKeyRingOptions(), time);
}
