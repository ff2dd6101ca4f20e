using System.Net;
using System.Text.RegularExpressions;
using Ema.IntegrationTests.Infrastructure;
using Ema.Server.Security;

namespace Ema.IntegrationTests.AdminConsole;

/// <summary>
/// A cookie-keeping HTTP "browser" for the console: follows redirects itself (so tests can see them), signs in through
/// the real IdP pages (password, then TOTP — enrolling an authenticator on first use), and posts the console's forms
/// with their antiforgery tokens.
/// </summary>
internal sealed partial class ConsoleSession : IDisposable
{
    private readonly EmaServerFixture _server;
    private readonly TimeProvider _time;

    private ConsoleSession(EmaServerFixture server, TimeProvider? time)
    {
        _server = server;
        _time = time ?? TimeProvider.System;
        Cookies = new CookieContainer();
        Http = TrustedHttp.Client(server.Ca, Cookies);
    }

    public HttpClient Http { get; }

    public CookieContainer Cookies { get; }

    /// <summary>The last page's URL and body.</summary>
    public Uri Url { get; private set; } = new("about:blank");

    public string Html { get; private set; } = string.Empty;

    public HttpStatusCode Status { get; private set; }

    public static async Task<ConsoleSession> SignInAsync(EmaServerFixture server, string username, string path = "/admin", TimeProvider? time = null, string? password = null)
    {
        var session = new ConsoleSession(server, time);
        await session.GetAsync(path);
        await session.CompleteSignInAsync(username, password);
        return session;
    }

    /// <summary>A session that has not signed in.</summary>
    public static ConsoleSession Anonymous(EmaServerFixture server, TimeProvider? time = null) => new(server, time);

    /// <summary>On the IdP's sign-in page: password, then the one-time code (enrolling on first use); ends back in the console.</summary>
    public async Task CompleteSignInAsync(string username, string? password = null)
    {
        Assert.Contains("/idp/signin", Url.AbsolutePath, StringComparison.Ordinal);
        if (_time is Ema.Testing.FakeTimeProvider clock)
        {
            clock.Advance(TimeSpan.FromSeconds(31)); // a one-time code is good once: the next sign-in needs the next step
        }

        await PostAsync(Url.GetLeftPart(UriPartial.Path), new()
        {
            ["request"] = Input(Html, "request"),
            ["__af"] = Input(Html, "__af"),
            ["username"] = username,
            ["password"] = password ?? _server.Password(username),
            ["otp"] = _server.TotpSecrets.TryGetValue(username, out var known) ? CodeNow(known) : string.Empty,
        });
        if (Html.Contains("id=\"totp-secret\"", StringComparison.Ordinal))
        {
            var secret = SecretOnPage().Replace(" ", string.Empty, StringComparison.Ordinal);
            _server.TotpSecrets[username] = secret;
            _server.Secrets.Add(secret);
            await PostAsync(Url.GetLeftPart(UriPartial.Path), new()
            {
                ["request"] = Input(Html, "request"),
                ["enrollment"] = Input(Html, "enrollment"),
                ["__af"] = Input(Html, "__af"),
                ["otp"] = CodeNow(secret),
            });
        }

        Assert.False(Url.AbsolutePath.StartsWith("/idp/", StringComparison.Ordinal), $"still at the IdP: {Url} {Html} {string.Join("\n", _server.Logs.Lines.Where(l => l.Contains("xception")))}");
    }

    /// <summary>The current code of a base32 secret, by this session's clock.</summary>
    public string CodeNow(string base32) => Totp.Code(Totp.FromBase32(base32), Totp.StepAt(_time.GetUtcNow()));

    public string SecretOnPage() => WebUtility.HtmlDecode(Regex.Match(Html, "id=\"totp-secret\">([^<]*)<").Groups[1].Value);

    public Task GetAsync(string pathOrUrl) => SendAsync(new HttpRequestMessage(HttpMethod.Get, Absolute(pathOrUrl)));

    public Task PostAsync(string pathOrUrl, Dictionary<string, string> form) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, Absolute(pathOrUrl)) { Content = new FormUrlEncodedContent(form) });

    /// <summary>Loads <paramref name="page"/>, then posts <paramref name="handler"/> with the page's antiforgery token.</summary>
    public async Task SubmitAsync(string page, string handler, Dictionary<string, string> fields, bool withAntiforgery = true)
    {
        await GetAsync(page);
        Assert.Equal(HttpStatusCode.OK, Status);
        if (withAntiforgery)
        {
            fields["__af"] = Input(Html, "__af");
        }

        await PostAsync($"{page}?handler={handler}", fields);
    }

    public static string Input(string html, string name)
    {
        var match = Regex.Match(html, $"<input[^>]*name=\"{Regex.Escape(name)}\"[^>]*value=\"([^\"]*)\"");
        return match.Success ? WebUtility.HtmlDecode(match.Groups[1].Value) : throw new InvalidOperationException($"no input {name} in {html}");
    }

    public void Dispose() => Http.Dispose();

    private Uri Absolute(string pathOrUrl) => pathOrUrl.StartsWith("https://", StringComparison.Ordinal) ? new Uri(pathOrUrl) : new Uri(_server.BaseUrl + pathOrUrl);

    private async Task SendAsync(HttpRequestMessage request)
    {
        for (var hop = 0; hop < 10; hop++)
        {
            using var response = await Http.SendAsync(request);
            Url = request.RequestUri!;
            Status = response.StatusCode;
            Html = await response.Content.ReadAsStringAsync();
            if (response.StatusCode is not (HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther) || response.Headers.Location is not { } location)
            {
                return;
            }

            request = new HttpRequestMessage(HttpMethod.Get, location.IsAbsoluteUri ? location : new Uri(Url, location));
        }

        throw new InvalidOperationException("too many redirects");
    }
}
