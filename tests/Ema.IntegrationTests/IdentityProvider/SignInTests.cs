using System.Net;
using System.Text.Json;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>OIDC sign-in through the real pages over https (OIDC Core §3.1; RFC 7636; RFC 8252; RFC 9207).</summary>
[Collection(EmaServerCollection.Name)]
public sealed class SignInTests(EmaServerFixture server)
{
    [Fact]
    public async Task Discovery_ServesOidcAndRfc8414DocumentsWithIdJagSupport()
    {
        foreach (var path in new[] { "/idp/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/idp", "/.well-known/openid-configuration/idp" })
        {
            var json = await server.Http.GetStringAsync(server.BaseUrl + path);
            var metadata = JsonSerializer.Deserialize(json, EmaJsonContext.Default.OpenIdProviderMetadata)!;
            Assert.Equal(server.Issuer, metadata.Issuer);
            Assert.Contains(GrantTypes.TokenExchange, metadata.GrantTypesSupported!);
            Assert.Contains(TokenTypes.IdJag, metadata.IdentityChainingRequestedTokenTypesSupported!);
            Assert.Equal([CodeChallengeMethods.S256], metadata.CodeChallengeMethodsSupported!);
        }
    }

    [Fact]
    public async Task SignIn_ThroughRealPageWithPkce_IssuesIdTokenThatValidatesIndependently()
    {
        var outcome = await server.SignInAsync("alice");

        var jwks = new JsonWebKeySet(await server.Http.GetStringAsync(server.Issuer + "/jwks"));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(outcome.Tokens.IdToken, new TokenValidationParameters
        {
            ValidIssuer = server.Issuer,
            ValidAudience = DemoSeed.AgentClientId,
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidAlgorithms = ["ES256"],
        });

        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal("usr-alice", result.Claims["sub"]);
        Assert.Equal(outcome.Nonce, result.Claims["nonce"]);
        Assert.True(result.Claims.ContainsKey("auth_time"));
        Assert.True(result.Claims.ContainsKey("sid"));
        Assert.Equal("Alice Adams", result.Claims["name"]);
        Assert.NotNull(outcome.Tokens.RefreshToken);
        Assert.Equal("Bearer", outcome.Tokens.TokenType);
    }

    [Fact]
    public async Task SignIn_SecondLoginWithSessionCookie_IsSilent()
    {
        var first = await server.SignInAsync("alice");
        var verifier = EmaServerFixture.Base64Url(new byte[32]);
        var challenge = EmaServerFixture.Base64Url(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier)));

        var response = await first.Browser.GetAsync($"{server.Issuer}/authorize?response_type=code&client_id=ema-agent&redirect_uri={Uri.EscapeDataString("http://127.0.0.1:5555/callback")}&scope=openid&state=s2&code_challenge={challenge}&code_challenge_method=S256");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("http://127.0.0.1:5555/callback?code=", response.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authorize_PromptNoneWithoutSession_RedirectsLoginRequired()
    {
        var response = await server.Http.GetAsync($"{server.Issuer}/authorize?response_type=code&client_id=ema-agent&redirect_uri={Uri.EscapeDataString("http://127.0.0.1:5555/callback")}&scope=openid&state=x&prompt=none&code_challenge={new string('a', 43)}&code_challenge_method=S256");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Contains("error=login_required", response.Headers.Location!.ToString(), StringComparison.Ordinal);
        Assert.Contains("state=x", response.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("&code_challenge_method=plain&code_challenge=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("&code_challenge=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task Authorize_WithoutS256Pkce_RedirectsInvalidRequest(string pkce)
    {
        var response = await server.Http.GetAsync($"{server.Issuer}/authorize?response_type=code&client_id=ema-agent&redirect_uri={Uri.EscapeDataString("http://127.0.0.1:5555/callback")}&scope=openid&state=x" + pkce);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Contains("error=invalid_request", response.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://evil.example/callback")]
    [InlineData("http://127.0.0.1:5555/other")]
    [InlineData("http://127.0.0.1.evil.example/callback")]
    public async Task Authorize_UnregisteredRedirectUri_ShowsErrorPageWithoutRedirect(string redirect)
    {
        var response = await server.Http.GetAsync($"{server.Issuer}/authorize?response_type=code&client_id=ema-agent&redirect_uri={Uri.EscapeDataString(redirect)}&scope=openid&code_challenge={new string('a', 43)}&code_challenge_method=S256");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Contains("not registered", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authorize_RepeatedParameter_IsRefused()
    {
        var response = await server.Http.GetAsync($"{server.Issuer}/authorize?client_id=ema-agent&client_id=desktop-public&response_type=code");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task SignIn_WrongPassword_ShowsErrorAndCreatesNoSession()
    {
        var (browser, cookies, page) = await server.OpenSignInPageAsync();
        var posted = await browser.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(page, "alice", "not-the-password"));

        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        var html = await posted.Content.ReadAsStringAsync();
        Assert.Contains("The username or password is incorrect.", html, StringComparison.Ordinal);
        Assert.DoesNotContain(cookies.GetAllCookies(), c => c.Name.Contains("ema-idp", StringComparison.Ordinal));
        Assert.Equal("no-store", posted.Headers.CacheControl!.ToString());
    }

    [Fact]
    public async Task SignIn_RepeatedFailures_LockTheAccountEvenForTheRightPassword()
    {
        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        var hasher = server.App.Services.GetRequiredService<PasswordHasher>();
        await directory.CreateUserAsync(new User("usr-dave", "dave", "Dave Doe", null, UserStatus.Active), hasher.Hash("dave-correct-horse"), default);

        for (var i = 0; i < 3; i++)
        {
            var (b, _, p) = await server.OpenSignInPageAsync();
            await b.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(p, "dave", "wrong-" + i));
        }

        var (browser, _, page) = await server.OpenSignInPageAsync();
        var posted = await browser.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(page, "dave", "dave-correct-horse"));
        Assert.Contains("Too many failed attempts", await posted.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(posted.Headers.Location);
    }

    [Fact]
    public async Task SignIn_LockoutIsAtomic_ParallelGuessesCheckNoMorePasswordsThanTheThreshold()
    {
        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        var hasher = server.App.Services.GetRequiredService<PasswordHasher>();
        await directory.CreateUserAsync(new User("usr-quinn", "quinn", "Quinn Doe", null, UserStatus.Active), hasher.Hash("quinn-correct-horse"), default);

        // Twenty guesses on twenty sign-in pages, posted at once: before the attempt was counted ahead of the password
        // check, each read "not locked" and checked its password, so all twenty were tried.
        // The thread pool is given a thread per guess up front: with only its two starting threads on this machine,
        // the guesses would be checked two at a time and the race would hardly ever show.
        const int Guesses = 20;
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, Guesses * 2), io);
        HttpResponseMessage[] answers;
        try
        {
            var pages = await Task.WhenAll(Enumerable.Range(0, Guesses).Select(_ => server.OpenSignInPageAsync()));
            answers = await Task.WhenAll(pages.Select((p, i) => p.Browser.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(p.Page, "quinn", "wrong-" + i))));
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, io);
        }

        var html = await Task.WhenAll(answers.Select(a => a.Content.ReadAsStringAsync()));

        Assert.Equal(3, html.Count(h => h.Contains("The username or password is incorrect.", StringComparison.Ordinal))); // LockoutThreshold is 3 in the test host
        Assert.Equal(Guesses - 3, html.Count(h => h.Contains("Too many failed attempts", StringComparison.Ordinal)));
        var credentials = await directory.GetCredentialsAsync("usr-quinn", default);
        Assert.Equal(3, credentials!.FailedAttempts);
        Assert.True(credentials.LockedUntil > server.App.Services.GetRequiredService<TimeProvider>().GetUtcNow());
        var trail = await server.App.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { Subject = "usr-quinn", Limit = 100 }, default);
        Assert.Equal(3, trail.Count(r => r.Reason?.StartsWith("wrong password", StringComparison.Ordinal) == true));
        Assert.Equal(Guesses - 3, trail.Count(r => r.Reason == "locked out"));
    }

    [Fact]
    public async Task SignIn_RightPassword_ClearsTheFailuresCountedBefore()
    {
        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        var hasher = server.App.Services.GetRequiredService<PasswordHasher>();
        await directory.CreateUserAsync(new User("usr-fay", "fay", "Fay Doe", null, UserStatus.Active), hasher.Hash("fay-correct-horse"), default);

        for (var i = 0; i < 2; i++)
        {
            var (b, _, p) = await server.OpenSignInPageAsync();
            await b.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(p, "fay", "wrong-" + i));
        }

        Assert.Equal(2, (await directory.GetCredentialsAsync("usr-fay", default))!.FailedAttempts);
        var (browser, _, page) = await server.OpenSignInPageAsync();
        var posted = await browser.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(page, "fay", "fay-correct-horse"));
        Assert.Equal(HttpStatusCode.Redirect, posted.StatusCode);
        var after = await directory.GetCredentialsAsync("usr-fay", default);
        Assert.Equal(0, after!.FailedAttempts);
        Assert.Null(after.LockedUntil);
    }

    [Fact]
    public async Task SignIn_RightPassword_DoesNotClearGuessesCountedAlongsideIt()
    {
        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        var hasher = server.App.Services.GetRequiredService<PasswordHasher>();
        await directory.CreateUserAsync(new User("usr-hal", "hal", "Hal Doe", null, UserStatus.Active), hasher.Hash("hal-correct-horse"), default);
        var now = server.App.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        DateTimeOffset? LockAtThree(int failures) => failures >= 3 ? now.AddMinutes(1) : null;

        // The user's attempt is counted, and while its password is checked two guesses are counted and lock the account.
        var users = await directory.BeginSignInAttemptAsync("usr-hal", now, LockAtThree, default);
        await directory.BeginSignInAttemptAsync("usr-hal", now, LockAtThree, default);
        var third = await directory.BeginSignInAttemptAsync("usr-hal", now, LockAtThree, default);
        Assert.NotNull(third!.LockedUntil);

        // The right password takes back its own attempt only: the guesses stay counted and their lock stays.
        await directory.ClearSignInFailuresAsync("usr-hal", users!.Count, default);
        var after = await directory.GetCredentialsAsync("usr-hal", default);
        Assert.Equal(2, after!.FailedAttempts);
        Assert.Equal(third.LockedUntil!.Value.ToUnixTimeMilliseconds(), after.LockedUntil!.Value.ToUnixTimeMilliseconds()); // stored in milliseconds
        Assert.True((await directory.BeginSignInAttemptAsync("usr-hal", now, LockAtThree, default))!.Refused);
    }

    [Fact]
    public async Task SignIn_UnknownUsername_LocksOutLikeARealUser_SoTheLockoutRevealsNoUsername()
    {
        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        var hasher = server.App.Services.GetRequiredService<PasswordHasher>();
        await directory.CreateUserAsync(new User("usr-gus", "gus", "Gus Doe", null, UserStatus.Active), hasher.Hash("gus-correct-horse"), default);

        async Task<string[]> FourWrongAsync(string username)
        {
            var answers = new string[4];
            for (var i = 0; i < answers.Length; i++)
            {
                var (b, _, p) = await server.OpenSignInPageAsync();
                var posted = await b.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(p, username, "wrong-" + i));
                answers[i] = Message(await posted.Content.ReadAsStringAsync());
            }

            return answers;
        }

        var real = await FourWrongAsync("gus");
        var unknown = await FourWrongAsync("nobody-by-this-name");
        Assert.Equal(real, unknown);
        Assert.StartsWith("Too many failed attempts", real[3], StringComparison.Ordinal);

        // A name longer than any user's is answered the same way and not remembered.
        var (longBrowser, _, longPage) = await server.OpenSignInPageAsync();
        var longName = await longBrowser.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(longPage, new string('x', 100_000), "wrong"));
        Assert.Equal(HttpStatusCode.OK, longName.StatusCode);
        Assert.Contains("The username or password is incorrect.", await longName.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Case and spaces are one name, as in the directory.
        var (browser, _, page) = await server.OpenSignInPageAsync();
        var again = await browser.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(page, " NOBODY-by-this-name ", "wrong"));
        Assert.Contains("Too many failed attempts", await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        static string Message(string html)
        {
            foreach (var known in new[] { "The username or password is incorrect.", "Too many failed attempts. Try again in" })
            {
                if (html.Contains(known, StringComparison.Ordinal))
                {
                    return known;
                }
            }

            return "(no error message)";
        }
    }

    [Fact]
    public async Task SignIn_XForwardedFor_FromAPeerThatIsNotATrustedProxy_IsIgnored()
    {
        var (browser, _, page) = await server.OpenSignInPageAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/idp/signin") { Content = EmaServerFixture.SignInForm(page, "no-such-user-xff", "wrong") };
        request.Headers.Add("X-Forwarded-For", "203.0.113.99"); // anyone can send it: believed only from Ema:TrustedProxies
        await browser.SendAsync(request);

        var trail = await server.App.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { Type = AuditEventTypes.SignIn, Limit = 1000 }, default);
        Assert.DoesNotContain(trail, r => r.RemoteAddress == "203.0.113.99");
        Assert.Contains(trail, r => r.RemoteAddress == "127.0.0.1" && r.Reason == "unknown user");
    }

    [Fact]
    public async Task SignIn_WithoutAntiforgeryToken_IsRefused()
    {
        var (browser, _, page) = await server.OpenSignInPageAsync();
        var posted = await browser.PostAsync(server.BaseUrl + "/idp/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["request"] = EmaServerFixture.HiddenInput(page, "request"),
            ["username"] = "alice",
            ["password"] = server.Password("alice"),
        }));
        Assert.Equal(HttpStatusCode.BadRequest, posted.StatusCode);
        Assert.Null(posted.Headers.Location);
    }

    [Fact]
    public async Task SignInPage_HasSecurityHeadersAndNoCredentialsInUrl()
    {
        var (_, _, page) = await server.OpenSignInPageAsync();
        Assert.Contains("method=\"post\"", page, StringComparison.Ordinal);
        Assert.Contains("type=\"password\"", page, StringComparison.Ordinal);
        var response = await server.Http.GetAsync(server.BaseUrl + "/idp/signin?request=nope");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_AuthorizationCodeUsedTwice_SecondIsInvalidGrant()
    {
        var (code, redirect, verifier) = await CodeAsync("alice");
        var form = new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = redirect, ["code_verifier"] = verifier };
        Assert.Equal(HttpStatusCode.OK, (await server.TokenAsync(new(form), (DemoSeed.AgentClientId, server.Demo.ClientSecret))).StatusCode);
        var second = await server.TokenAsync(new(form), (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        await AssertErrorAsync(second, HttpStatusCode.BadRequest, ErrorIds.AuthorizationCodeInvalid);
    }

    [Fact]
    public async Task Token_WrongCodeVerifier_IsInvalidGrant()
    {
        var (code, redirect, _) = await CodeAsync("alice");
        var response = await server.TokenAsync(new() { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = redirect, ["code_verifier"] = new string('b', 43) }, (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorIds.PkceVerifierInvalid);
    }

    [Fact]
    public async Task Refresh_RotatesAndReuseRevokesTheFamily()
    {
        var signIn = await server.SignInAsync("alice");
        var first = signIn.Tokens.RefreshToken!;
        var rotated = await server.TokenAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = first }, (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        var body = JsonSerializer.Deserialize(await rotated.Content.ReadAsStringAsync(), EmaJsonContext.Default.AccessTokenResponse)!;
        server.Remember(body.AccessToken, body.IdToken, body.RefreshToken);
        Assert.NotEqual(first, body.RefreshToken);

        var reuse = await server.TokenAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = first }, (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        await AssertErrorAsync(reuse, HttpStatusCode.BadRequest, ErrorIds.RefreshTokenReused);

        // The successor was revoked with its family.
        var successor = await server.TokenAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = body.RefreshToken! }, (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        Assert.Equal(HttpStatusCode.BadRequest, successor.StatusCode);
    }

    [Fact]
    public async Task UserInfo_ReturnsClaimsAllowedByScopes()
    {
        var signIn = await server.SignInAsync("bob");
        var request = new HttpRequestMessage(HttpMethod.Get, server.Issuer + "/userinfo");
        request.Headers.Authorization = new("Bearer", signIn.Tokens.AccessToken);
        var info = JsonSerializer.Deserialize(await (await server.Http.SendAsync(request)).Content.ReadAsStringAsync(), EmaJsonContext.Default.UserInfoResponse)!;
        Assert.Equal("usr-bob", info.Subject);
        Assert.Equal("bob@acme.example", info.Email);
    }

    [Fact]
    public async Task UserInfo_WithoutOrWithBadToken_ChallengesBearer()
    {
        var none = await server.Http.GetAsync(server.Issuer + "/userinfo");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.Single().Scheme);

        var request = new HttpRequestMessage(HttpMethod.Get, server.Issuer + "/userinfo");
        request.Headers.Authorization = new("Bearer", "not-a-token");
        var bad = await server.Http.SendAsync(request);
        Assert.Contains("error=\"invalid_token\"", bad.Headers.WwwAuthenticate.Single().ToString(), StringComparison.Ordinal);
    }

    private async Task<(string Code, string Redirect, string Verifier)> CodeAsync(string username)
    {
        var cookies = new CookieContainer();
        var browser = TrustedHttp.Client(server.Ca, cookies);
        var verifier = EmaServerFixture.Base64Url(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var challenge = EmaServerFixture.Base64Url(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier)));
        const string Redirect = "http://127.0.0.1:5556/callback";
        var authorize = await browser.GetAsync($"{server.Issuer}/authorize?response_type=code&client_id=ema-agent&redirect_uri={Uri.EscapeDataString(Redirect)}&scope=openid&code_challenge={challenge}&code_challenge_method=S256");
        var page = await browser.GetStringAsync(server.BaseUrl + authorize.Headers.Location!.ToString());
        var posted = await browser.PostAsync(server.BaseUrl + "/idp/signin", EmaServerFixture.SignInForm(page, username, server.Password(username)));
        var code = System.Web.HttpUtility.ParseQueryString(posted.Headers.Location!.Query)["code"]!;
        server.Remember(code);
        return (code, Redirect, verifier);
    }

    internal static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, ErrorDescriptor expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {body}");
        var error = JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)!;
        Assert.Equal(expected.Code, error.Error);
        Assert.Equal(expected.Id, error.EmaErrorId);
        Assert.DoesNotContain("access_token", body, StringComparison.Ordinal);
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
    }
}
