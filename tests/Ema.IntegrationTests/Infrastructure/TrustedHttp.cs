using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Ema.IntegrationTests.Infrastructure;

/// <summary>HTTP clients that trust Ema's local CA because they are configured to (decision 22) — validation stays on.</summary>
public static class TrustedHttp
{
    public static SocketsHttpHandler Handler(X509Certificate2 ca, CookieContainer? cookies = null) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = cookies is not null,
        CookieContainer = cookies ?? new CookieContainer(),
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                {
                    return false; // name mismatch or no certificate: never accepted
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            },
        },
    };

    public static HttpClient Client(X509Certificate2 ca, CookieContainer? cookies = null) => new(Handler(ca, cookies)) { Timeout = TimeSpan.FromSeconds(60) };
}
