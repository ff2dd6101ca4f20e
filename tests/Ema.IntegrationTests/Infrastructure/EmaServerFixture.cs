using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ema.Cli;
using Ema.Protocol;
using Ema.Server.Model;
using Ema.Server.Stores;
using Ema.Storage.Stores;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ema.IntegrationTests.Infrastructure;

/// <summary>
/// The real host (<c>ema serve --seed demo</c>) on loopback https with a real SQLite file in a temporary data folder,
/// plus drivers for the browser sign-in and the token endpoint. Records every token and secret it sees so the log
/// hygiene test can prove none of them was logged.
/// </summary>
public partial class EmaServerFixture : IAsyncLifetime
{
    public const string InteropResourceId = "res-interop";

    private readonly TimeProvider? _time;

    public EmaServerFixture()
        : this(null)
    {
    }

    protected EmaServerFixture(TimeProvider? time, string? dataDirectory = null, int? port = null)
    {
        _time = time;
        _port = port;
        if (dataDirectory is not null)
        {
            DataDirectory = dataDirectory;
            _reuseData = true;
        }
    }

    private readonly bool _reuseData;
    private readonly int? _port;

    public WebApplication App { get; private set; } = null!;

    public string DataDirectory { get; private set; } = Path.Combine(Path.GetTempPath(), "ema-it-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)));

    public string BaseUrl { get; private set; } = string.Empty;

    public string Issuer => BaseUrl + "/idp";

    public X509Certificate2 Ca { get; private set; } = null!;

    public DemoCredentials Demo { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    /// <summary>Every token, secret and password the tests handled (none may appear in a log line).</summary>
    public System.Collections.Concurrent.ConcurrentBag<string> Secrets { get; } = [];

    public HttpClient Http { get; private set; } = null!;

    /// <summary>A port for a second server (the interop authorization-server stub) that shares the CA.</summary>
    public int InteropPort { get; } = FreePort();

    public string InteropAsIssuer => $"https://127.0.0.1:{InteropPort}/as";

    public string InteropResource => $"https://127.0.0.1:{InteropPort}/mcp";

    /// <summary>
    /// Settings a fixture adds. By default the per-address sign-in limit is raised far above what the suite's sign-ins
    /// from one loopback address add up to in a minute (the limit has a host of its own in <c>SignInRateLimitTests</c>).
    /// </summary>
    protected virtual IEnumerable<string> ExtraArguments => ["--Ema:IdentityProvider:SignInAttemptsPerAddressPerMinute=100000"];

    public async Task InitializeAsync()
    {
        var port = _port ?? FreePort();
        BaseUrl = $"https://127.0.0.1:{port}";
        App = EmaHost.Build(
            ["--Ema:DataDirectory=" + DataDirectory, "--Ema:Urls=" + BaseUrl, "--Ema:Seed=demo", "--Ema:IdentityProvider:LockoutThreshold=3", .. ExtraArguments],
            builder =>
            {
                builder.Logging.ClearProviders();
                builder.Logging.SetMinimumLevel(LogLevel.Trace);
                builder.Logging.AddProvider(Logs);
                if (_time is not null)
                {
                    builder.Services.AddSingleton(_time);
                }
            });
        await App.StartAsync();
        Ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(DataDirectory, "tls", LocalCertificateAuthority.CaCertificateFile));
        Http = TrustedHttp.Client(Ca);
        Demo = JsonSerializer.Deserialize(await File.ReadAllTextAsync(Path.Combine(DataDirectory, DemoSeed.CredentialsFile)), DemoJson.Default.DemoCredentials)!;
        Secrets.Add(Demo.ClientSecret);
        foreach (var user in Demo.Users)
        {
            Secrets.Add(user.Password);
            if (user.TotpSecret is { } totp)
            {
                Secrets.Add(totp);
                TotpSecrets[user.Username] = totp;
            }
        }

        if (_reuseData)
        {
            return; // restarted on an existing data folder: already seeded
        }

        // A resource whose authorization server is the interop stub, and one behind a foreign AS (for pair mismatches).
        var applications = App.Services.GetRequiredService<IApplicationStore>();
        await applications.CreateResourceAsync(new ResourceApplication { Id = InteropResourceId, DisplayName = "Interop", Resource = InteropResource, AuthorizationServerIssuer = InteropAsIssuer, Scopes = [new("interop.read")] }, default);
        await applications.CreateResourceAsync(new ResourceApplication { Id = "res-external", DisplayName = "External", Resource = "https://mcp.external.example/mcp", AuthorizationServerIssuer = "https://as.external.example", Scopes = [new("ext.read")] }, default);
        var entitlements = App.Services.GetRequiredService<IEntitlementStore>();
        await entitlements.CreateAsync(new Entitlement("ent-it-interop", EntitlementSubjectType.Group, "grp-engineering", DemoSeed.AgentClientId, InteropResourceId, ["interop.read"]), default);
        await entitlements.CreateAsync(new Entitlement("ent-it-external", EntitlementSubjectType.Group, "grp-engineering", DemoSeed.AgentClientId, "res-external", ["ext.read"]), default);
    }

    public async Task DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        Http.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public string Password(string username) => Demo.Users.Single(u => u.Username == username).Password;

    public Task<long> AuditCountAsync() => App.Services.GetRequiredService<SqliteAuditLog>().CountAsync(default);

    /// <summary>Result of a browser sign-in through the real pages.</summary>
    public sealed record SignInOutcome(AccessTokenResponse Tokens, string Nonce, HttpClient Browser, CookieContainer Cookies);

    /// <summary>Signs in as <paramref name="username"/> through /authorize, the sign-in page and /token (PKCE S256).</summary>
    public async Task<SignInOutcome> SignInAsync(string username, string scope = "openid profile email offline_access", CookieContainer? cookies = null, string clientId = DemoSeed.AgentClientId)
    {
        cookies ??= new CookieContainer();
        var browser = TrustedHttp.Client(Ca, cookies);
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var state = Base64Url(RandomNumberGenerator.GetBytes(8));
        var nonce = Base64Url(RandomNumberGenerator.GetBytes(8));
        var redirect = $"http://127.0.0.1:{40000 + RandomNumberGenerator.GetInt32(20000)}/callback";
        var authorize = $"{Issuer}/authorize?response_type=code&client_id={clientId}&redirect_uri={Uri.EscapeDataString(redirect)}&scope={Uri.EscapeDataString(scope)}&state={state}&nonce={nonce}&code_challenge={challenge}&code_challenge_method=S256";

        var response = await browser.GetAsync(authorize);
        var location = response.Headers.Location?.ToString() ?? throw new InvalidOperationException($"authorize answered {(int)response.StatusCode}");
        if (location.StartsWith("/", StringComparison.Ordinal))
        {
            var page = await browser.GetStringAsync(BaseUrl + location);
            var posted = await browser.PostAsync(BaseUrl + "/idp/signin", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["request"] = HiddenInput(page, "request"),
                ["__af"] = HiddenInput(page, "__af"),
                ["username"] = username,
                ["password"] = Password(username),
            }));
            location = posted.Headers.Location?.ToString() ?? throw new InvalidOperationException("sign-in did not redirect: " + await posted.Content.ReadAsStringAsync());
        }

        var query = System.Web.HttpUtility.ParseQueryString(new Uri(location).Query);
        if (query["state"] != state || query["iss"] != Issuer || !location.StartsWith(redirect, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("bad authorization response: " + location);
        }

        var tokens = await TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = GrantTypes.AuthorizationCode,
            ["code"] = query["code"]!,
            ["redirect_uri"] = redirect,
            ["code_verifier"] = verifier,
        }, basic: clientId == DemoSeed.AgentClientId ? (clientId, Demo.ClientSecret) : null, extra: clientId == DemoSeed.AgentClientId ? null : new() { ["client_id"] = clientId });
        var body = await tokens.Content.ReadAsStringAsync();
        if (!tokens.IsSuccessStatusCode)
        {
            throw new InvalidOperationException("token request failed: " + body);
        }

        var result = JsonSerializer.Deserialize(body, EmaJsonContext.Default.AccessTokenResponse)!;
        Remember(result.AccessToken, result.IdToken, result.RefreshToken, query["code"]);
        return new SignInOutcome(result, nonce, browser, cookies);
    }

    /// <summary>A fresh browser (its own cookies) on the IdP's sign-in page for the demo agent: the page's HTML.</summary>
    public async Task<(HttpClient Browser, CookieContainer Cookies, string Page)> OpenSignInPageAsync()
    {
        var cookies = new CookieContainer();
        var browser = TrustedHttp.Client(Ca, cookies);
        var authorize = await browser.GetAsync($"{Issuer}/authorize?response_type=code&client_id={DemoSeed.AgentClientId}&redirect_uri={Uri.EscapeDataString("http://127.0.0.1:5555/callback")}&scope=openid&code_challenge={new string('a', 43)}&code_challenge_method=S256");
        var page = await browser.GetStringAsync(BaseUrl + authorize.Headers.Location!.ToString());
        return (browser, cookies, page);
    }

    /// <summary>The sign-in form of <paramref name="page"/> filled in with a username and password.</summary>
    public static FormUrlEncodedContent SignInForm(string page, string username, string password) => new(new Dictionary<string, string>
    {
        ["request"] = HiddenInput(page, "request"),
        ["__af"] = HiddenInput(page, "__af"),
        ["username"] = username,
        ["password"] = password,
    });

    /// <summary>Posts a token request to the IdP (Basic auth when given).</summary>
    public Task<HttpResponseMessage> TokenAsync(Dictionary<string, string> form, (string Id, string Secret)? basic = null, Dictionary<string, string>? extra = null)
    {
        foreach (var (k, v) in extra ?? [])
        {
            form[k] = v;
        }

        var request = new HttpRequestMessage(HttpMethod.Post, Issuer + "/token") { Content = new FormUrlEncodedContent(form) };
        if (basic is { } credentials)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(credentials.Id)}:{Uri.EscapeDataString(credentials.Secret)}")));
        }

        return Http.SendAsync(request);
    }

    /// <summary>A token-exchange request for an ID-JAG with the demo agent's credentials.</summary>
    public Dictionary<string, string> ExchangeForm(string subjectToken, string resource, string? audience = null, string? scope = null, string subjectTokenType = TokenTypes.IdToken)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = GrantTypes.TokenExchange,
            ["requested_token_type"] = TokenTypes.IdJag,
            ["subject_token"] = subjectToken,
            ["subject_token_type"] = subjectTokenType,
            ["resource"] = resource,
            ["audience"] = audience ?? BaseUrl + "/as",
        };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        return form;
    }

    public void Remember(params string?[] values)
    {
        foreach (var value in values)
        {
            if (!string.IsNullOrEmpty(value))
            {
                Secrets.Add(value);
            }
        }
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string HiddenInput(string html, string name)
    {
        var match = Regex.Match(html, $"name=\"{Regex.Escape(name)}\" value=\"([^\"]*)\"");
        return match.Success ? WebUtility.HtmlDecode(match.Groups[1].Value) : throw new InvalidOperationException($"no hidden input {name}");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
