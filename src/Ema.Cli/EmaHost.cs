using System.Net;
using System.Security.Cryptography.X509Certificates;
using Ema.Admin;
using Ema.Server;
using Ema.Server.AspNetCore;
using Ema.Server.AspNetCore.Endpoints;
using Ema.Server.AuthorizationServer;
using Ema.Server.Options;
using Ema.Storage;

namespace Ema.Cli;

/// <summary>Settings of <c>ema serve</c>, bound from configuration section <c>Ema</c> (appsettings, environment, command line).</summary>
public sealed class EmaHostOptions
{
    /// <summary>Data folder: database, Data Protection key ring, TLS material. Default: the user's local data folder.</summary>
    public string DataDirectory { get; set; } = string.Empty;

    /// <summary>Listen URL (https; http only for loopback with <see cref="AllowHttpOnLoopback"/>).</summary>
    public string Urls { get; set; } = "https://127.0.0.1:7443";

    /// <summary>Roles to run, comma separated: <c>idp</c>, <c>as</c>, <c>samples</c> (the three sample MCP servers).</summary>
    public string Roles { get; set; } = "idp,as,samples";

    /// <summary>Development switch for plain http on loopback (decision 22).</summary>
    public bool AllowHttpOnLoopback { get; set; }

    /// <summary>
    /// Reverse proxies whose <c>X-Forwarded-For</c> is believed, comma separated (addresses or CIDR networks). Behind a
    /// proxy, the client's address — in the audit trail, network conditions of the policy, the sign-in limit per
    /// address — is what the proxy forwards; from anyone else the header is ignored. Empty: no proxy is trusted.
    /// </summary>
    public string TrustedProxies { get; set; } = string.Empty;

    /// <summary>Seed: <c>demo</c> creates the demo organization on start (idempotent).</summary>
    public string Seed { get; set; } = string.Empty;

    /// <summary>
    /// A PKCS#12 file (RSA, with its private key) that encrypts the Data Protection key ring at rest — and so, through it,
    /// the signing keys and TOTP secrets. Keep it outside the data folder (a mounted secret); empty: the key ring is
    /// stored in clear on Linux and the data folder is the trust boundary.
    /// </summary>
    public string KeyEncryptionCertificatePath { get; set; } = string.Empty;

    /// <summary>The PKCS#12 file's password (from the environment: <c>Ema__KeyEncryptionCertificatePassword</c>).</summary>
    public string? KeyEncryptionCertificatePassword { get; set; }

    /// <summary>
    /// The key-encryption certificate, or null when none is configured; a readable error when the file cannot be read
    /// (whether it is a usable key-encryption certificate, <c>AddEmaAspNetCore</c> checks).
    /// </summary>
    public X509Certificate2? LoadKeyEncryptionCertificate()
    {
        if (string.IsNullOrWhiteSpace(KeyEncryptionCertificatePath))
        {
            return null;
        }

        try
        {
            return X509CertificateLoader.LoadPkcs12FromFile(KeyEncryptionCertificatePath, KeyEncryptionCertificatePassword);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Ema:KeyEncryptionCertificatePath ({KeyEncryptionCertificatePath}) cannot be read as a PKCS#12 file with that password: {ex.Message}", ex);
        }
    }

    public string ResolveDataDirectory() => string.IsNullOrWhiteSpace(DataDirectory)
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "ema")
        : Path.GetFullPath(DataDirectory);
}

/// <summary>The composition root of <c>ema serve</c>: configuration, TLS, storage, roles, endpoints. No logic of its own.</summary>
public static class EmaHost
{
    private static List<IPNetwork> ParseTrustedProxies(string value)
    {
        var networks = new List<IPNetwork>();
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (IPNetwork.TryParse(item, out var network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(item, out var address))
            {
                networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                throw new InvalidOperationException($"Ema:TrustedProxies: '{item}' is neither an IP address nor a CIDR network.");
            }
        }

        return networks;
    }

    /// <summary>Builds the web application from command-line arguments and configuration.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // A password on the command line is readable by every user of the machine (ps, /proc/PID/cmdline).
        if (args.Any(a => a.Contains("KeyEncryptionCertificatePassword", StringComparison.OrdinalIgnoreCase)))
        {
            throw new InvalidOperationException("Give Ema:KeyEncryptionCertificatePassword through the environment (Ema__KeyEncryptionCertificatePassword) or a configuration file readable only by the service, never on the command line: every user of the machine can read a command line.");
        }

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        var settings = builder.Configuration.GetSection("Ema").Get<EmaHostOptions>() ?? new EmaHostOptions();
        var dataDirectory = settings.ResolveDataDirectory();
        Ema.Storage.OwnerOnly.CreateDirectory(dataDirectory); // the database, the key ring and the audit seal key
        var time = TimeProvider.System;

        var url = new Uri(settings.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries)[0]);
        if (url.Scheme != Uri.UriSchemeHttps && !(settings.AllowHttpOnLoopback && url.IsLoopback))
        {
            throw new InvalidOperationException($"Ema:Urls must be https (got {url}); plain http is allowed only on loopback with Ema:AllowHttpOnLoopback=true.");
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var address = url.Host switch
            {
                "localhost" => IPAddress.Loopback,
                "*" or "+" => IPAddress.Any,
                var host => IPAddress.Parse(host.Trim('[', ']')),
            };
            kestrel.Listen(address, url.Port, listen =>
            {
                if (url.Scheme == Uri.UriSchemeHttps)
                {
                    var path = builder.Configuration["Ema:Tls:CertificatePath"];
                    listen.UseHttps(string.IsNullOrEmpty(path)
                        ? LocalCertificateAuthority.EnsureServerCertificate(Path.Combine(dataDirectory, "tls"), time)
                        : System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(path, builder.Configuration["Ema:Tls:CertificatePassword"]));
                }
            });
        });

        var baseUrl = url.GetLeftPart(UriPartial.Authority);
        var roles = settings.Roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        builder.Services.AddSingleton(settings);
        builder.Services.AddEmaAspNetCore(Path.Combine(dataDirectory, "dataprotection-keys"), settings.LoadKeyEncryptionCertificate());
        builder.Services.AddEmaSqliteStorage(Path.Combine(dataDirectory, "ema.db"));
        builder.Services.AddHealthChecks().AddCheck<Ema.Storage.StorageHealthCheck>("storage", tags: [Ema.Protocol.EmaEndpoints.ReadinessTag]);

        // Request lines can carry tokens in query strings (for example id_token_hint): never log them.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        if (roles.Contains(EmaRoles.IdentityProvider))
        {
            builder.Services.AddEmaIdentityProvider();
            builder.Services.Configure<IdentityProviderOptions>(builder.Configuration.GetSection(IdentityProviderOptions.Section));
            builder.Services.PostConfigure<IdentityProviderOptions>(o =>
            {
                if (string.IsNullOrEmpty(o.Issuer))
                {
                    o.Issuer = baseUrl + "/idp";
                }

                o.AllowHttpOnLoopback |= settings.AllowHttpOnLoopback;
            });

            // The admin console and "my connections" sign in through this IdP, so they run where it runs.
            builder.Services.AddEmaAdminConsole(OutboundHttp.CreateForChecks(Path.Combine(dataDirectory, "tls", LocalCertificateAuthority.CaCertificateFile), builder.Configuration["Ema:Tls:TrustedCaPath"]));
            builder.Services.Configure<AdminConsoleOptions>(builder.Configuration.GetSection(AdminConsoleOptions.Section));
        }

        if (roles.Contains(EmaRoles.AuthorizationServer))
        {
            builder.Services.AddEmaAuthorizationServer();
            builder.Services.Configure<AuthorizationServerOptions>(builder.Configuration.GetSection(AuthorizationServerOptions.Section));
            builder.Services.PostConfigure<AuthorizationServerOptions>(o =>
            {
                if (string.IsNullOrEmpty(o.Issuer))
                {
                    o.Issuer = baseUrl + "/as";
                }

                o.AllowHttpOnLoopback |= settings.AllowHttpOnLoopback;
            });
            var tlsDirectory = Path.Combine(dataDirectory, "tls");
            builder.Services.AddSingleton(new JwksHttpClient(OutboundHttp.Create(Path.Combine(tlsDirectory, LocalCertificateAuthority.CaCertificateFile), builder.Configuration["Ema:Tls:TrustedCaPath"])));
        }

        var samples = roles.Contains("samples") ? SampleServers.Register(builder, baseUrl, roles.Contains(EmaRoles.AuthorizationServer), dataDirectory) : null;

        if (string.Equals(settings.Seed, "demo", StringComparison.OrdinalIgnoreCase))
        {
            builder.Services.AddSingleton<IStartupTask>(sp => new DemoSeed(sp, baseUrl, dataDirectory));
        }

        var trustedProxies = ParseTrustedProxies(settings.TrustedProxies);
        if (trustedProxies.Count > 0)
        {
            builder.Services.Configure<Microsoft.AspNetCore.Builder.ForwardedHeadersOptions>(o =>
            {
                // Only the address: the last hop the trusted proxy appended (ForwardLimit 1). The scheme and host stay
                // Ema's own (its issuers are configured, never taken from a request).
                o.ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor;
                o.KnownProxies.Clear();
                o.KnownIPNetworks.Clear();
                foreach (var network in trustedProxies)
                {
                    o.KnownIPNetworks.Add(network);
                }
            });
        }

        var app = builder.Build();
        if (trustedProxies.Count > 0)
        {
            app.UseForwardedHeaders();
        }

        app.MapEmaHealthChecks();

        if (roles.Contains(EmaRoles.IdentityProvider))
        {
            app.MapEmaIdentityProvider();
            app.MapEmaAdminConsole();
        }

        if (roles.Contains(EmaRoles.AuthorizationServer))
        {
            app.MapEmaAuthorizationServer();
        }

        samples?.Map(app);
        app.MapGet("/", () => Results.Text($"{Program.VersionText()} — roles: {string.Join(", ", roles)}\n"));
        return app;
    }
}
