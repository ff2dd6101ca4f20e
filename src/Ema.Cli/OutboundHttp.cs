using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Ema.Cli;

/// <summary>
/// The host's outbound HTTP client (trusted issuers' metadata and JWKS): the system's trusted roots, plus the host's
/// own generated CA and an optional configured CA (decision 22: trusted because configured, validation never off).
/// </summary>
internal static class OutboundHttp
{
    // The composition root is where library code gets its HttpClient from (style rule 6), so it may construct one.
#pragma warning disable RS0030
    public static HttpClient Create(string localCaPath, string? extraCaPath) => new(Handler(localCaPath, extraCaPath))
    {
        Timeout = TimeSpan.FromSeconds(15),
    };
#pragma warning restore RS0030

    /// <summary>
    /// The console's connection checks fetch URLs an admin registered: no redirects (metadata lives at its well-known
    /// URL) and at most 64 KB per document.
    /// </summary>
    public static HttpClient CreateForChecks(string localCaPath, string? extraCaPath)
    {
        var handler = Handler(localCaPath, extraCaPath);
        handler.AllowAutoRedirect = false;
#pragma warning disable RS0030
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10), MaxResponseContentBufferSize = 64 * 1024 };
#pragma warning restore RS0030
    }

    /// <summary>The admin CLI's client for the admin API: no redirects, which would re-send its bearer token elsewhere.</summary>
    public static HttpClient CreateForAdminApi(string? caPath, TimeSpan? timeout = null)
    {
        var handler = Handler(caPath, null);
        handler.AllowAutoRedirect = false;
#pragma warning disable RS0030
        return new HttpClient(handler) { Timeout = timeout ?? TimeSpan.FromSeconds(60) };
#pragma warning restore RS0030
    }

    /// <summary>The connection pool behind <see cref="Create"/>; also the Ema client's network handler.</summary>
    public static SocketsHttpHandler Handler(string? localCaPath, string? extraCaPath) => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (errors == SslPolicyErrors.None)
                {
                    return true;
                }

                if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                foreach (var path in new[] { localCaPath, extraCaPath })
                {
                    if (!string.IsNullOrEmpty(path) && File.Exists(path))
                    {
                        chain.ChainPolicy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificateFromFile(path));
                    }
                }

                return chain.ChainPolicy.CustomTrustStore.Count > 0 && chain.Build(new X509Certificate2(certificate));
            },
        },
    };
}
