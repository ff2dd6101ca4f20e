using System.Diagnostics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ema.Cli;
using Ema.Client;

namespace Ema.IntegrationTests.Infrastructure;

/// <summary>A real <c>ema serve --seed demo</c> process on a free loopback port, with a fresh data folder.</summary>
internal sealed class EmaProcess : IDisposable
{
    private EmaProcess(Process process, string data, string baseUrl, X509Certificate2 ca, DemoCredentials demo)
    {
        Process = process;
        Data = data;
        BaseUrl = baseUrl;
        Ca = ca;
        Demo = demo;
    }

    public Process Process { get; }

    public string Data { get; }

    public string BaseUrl { get; }

    public X509Certificate2 Ca { get; }

    public DemoCredentials Demo { get; }

    public static async Task<EmaProcess> StartAsync(params string[] settings)
    {
        var data = Directory.CreateTempSubdirectory("ema-process-").FullName;
        var baseUrl = $"https://127.0.0.1:{EmaServerFixture.FreePort()}";
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "ema.dll"), "serve", "--data", data, "--seed", "demo", "--urls", baseUrl, "--Logging:LogLevel:Default=Warning" }.Concat(settings))
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start)!;
        var caPath = Path.Combine(data, "tls", "ca.crt");
        for (var i = 0; i < 600 && !File.Exists(Path.Combine(data, DemoSeed.CredentialsFile)); i++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException("ema serve exited: " + await process.StandardError.ReadToEndAsync());
            }

            await Task.Delay(100);
        }

        await Task.Delay(200);
        var ca = X509CertificateLoader.LoadCertificateFromFile(caPath);
        using var http = TrustedHttp.Client(ca);
        for (var i = 0; i < 300; i++)
        {
            try
            {
                if ((await http.GetAsync(baseUrl + "/idp/.well-known/openid-configuration")).IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        var demo = JsonSerializer.Deserialize(await File.ReadAllTextAsync(Path.Combine(data, DemoSeed.CredentialsFile)), DemoJson.Default.DemoCredentials)!;
        return new EmaProcess(process, data, baseUrl, ca, demo);
    }

    /// <summary>An Ema client for the demo agent, signed in as <paramref name="username"/> through the real page.</summary>
    public async Task<EmaClient> SignedInClientAsync(string username, bool useCatalog = true, Func<string>? oneTimeCode = null)
    {
        var options = new EmaClientOptions { IdentityProvider = BaseUrl + "/idp", IdentityProviderClient = new ClientCredentials(Demo.ClientId, Demo.ClientSecret), UseCatalog = useCatalog };
        options.AuthorizationServerClients[BaseUrl + "/as"] = new ClientCredentials(Demo.ClientId, Demo.AuthorizationServerClientSecret);
        var client = new EmaClient(options, TrustedHttp.Handler(Ca), browser: new PageSignInBrowser(TrustedHttp.Handler(Ca, new CookieContainer()), username, Demo.Users.Single(u => u.Username == username).Password, oneTimeCode));
        await client.SignInAsync();
        return client;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
