using System.Net;
using System.Text;
using System.Text.Json;
using Ema.Client.SignIn;
using Ema.Protocol;

namespace Ema.Client.Tests;

/// <summary>
/// The two exchanges against an in-memory IdP and AS (spec §2(a)12–37; decisions 2, 11): refusals are final and typed,
/// the IdP's step-up demand causes exactly one new sign-in, tokens go only where they belong.
/// </summary>
public sealed class TokenBrokerTests
{
    private const string Idp = "https://idp.example";
    private const string As = "https://as.example";
    private const string Resource = "https://mcp.example/mcp";
    private readonly FakeNetwork _network = new();

    public TokenBrokerTests()
    {
        _network.Json(Idp + "/.well-known/oauth-authorization-server", new { issuer = Idp, authorization_endpoint = Idp + "/authorize", token_endpoint = Idp + "/token" });
        _network.Json("https://mcp.example/.well-known/oauth-protected-resource/mcp", new { resource = Resource, authorization_servers = new[] { As }, scopes_supported = new[] { "notes.read" } });
        _network.Json(As + "/.well-known/oauth-authorization-server", DiscoveryTests.AsMetadata(As, [GrantProfiles.IdJag]));
        _network.On(HttpMethod.Post, As + "/token", (_, _) => FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "at-1", token_type = "bearer", expires_in = 600, scope = "notes.read" }));
    }

    [Fact]
    public async Task PolicyRefusal_IsTypedWithItsDecisionId_AndNeverRetried()
    {
        _network.On(HttpMethod.Post, Idp + "/token", (_, _) => FakeNetwork.JsonResponse(HttpStatusCode.BadRequest, new { error = "invalid_grant", error_description = "Not for contractors.", ema_decision_id = "dec_42" }));
        using var client = Client();
        var denied = await Assert.ThrowsAsync<EmaAccessDeniedException>(() => client.GetAccessTokenAsync(new EmaServer("notes", Resource)));
        Assert.Equal(new EmaRefusal(RefusalSource.IdentityProvider, "invalid_grant", "Not for contractors.", "dec_42"), denied.Refusal);
        Assert.Equal(1, _network.Count(Idp + "/token"));
        Assert.Equal(0, _network.Count(As + "/token"));

        var connection = await client.ConnectAsync(new EmaServer("notes", Resource)); // the same refusal as a status, again one request
        Assert.Equal(ConnectionStatus.Blocked, connection.Status);
        Assert.Equal(2, _network.Count(Idp + "/token"));
    }

    [Fact]
    public async Task InsufficientUserAuthentication_SignsInAgainWithMaxAgeAndAcr_ThenRetriesOnce()
    {
        var exchanges = 0;
        _network.On(HttpMethod.Post, Idp + "/token", (_, body) =>
        {
            var form = Form(body);
            if (form["grant_type"] == GrantTypes.AuthorizationCode)
            {
                return FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "idp-at-2", token_type = "Bearer", expires_in = 3600, id_token = IdToken("mfa-nonce-placeholder") });
            }

            return ++exchanges == 1
                ? FakeNetwork.JsonResponse(HttpStatusCode.BadRequest, new { error = "insufficient_user_authentication", error_description = "MFA required", max_age = 300, acr_values = "urn:ema:acr:mfa" })
                : FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "id-jag-2", issued_token_type = TokenTypes.IdJag, token_type = "n_a" });
        });
        var browser = new RedirectingBrowser(this);
        using var client = Client(browser);
        var token = await client.GetAccessTokenAsync(new EmaServer("notes", Resource));
        Assert.Equal("at-1", token);
        var authorize = Assert.Single(browser.Opened);
        Assert.Contains("max_age=300", authorize.Query, StringComparison.Ordinal);
        Assert.Contains("acr_values=urn%3Aema%3Aacr%3Amfa", authorize.Query, StringComparison.Ordinal);
        Assert.Equal(1, exchanges); // the first exchange, refused; the retry went to the stepped-up IdP below
        Assert.Equal(2, _network.Requests.Count(r => r.Url == Idp + "/token" && r.Body!.Contains("token-exchange", StringComparison.Ordinal)));
        var secondExchange = _network.Requests.Where(r => r.Url == Idp + "/token" && r.Body!.Contains("token-exchange", StringComparison.Ordinal)).Last();
        Assert.Contains("subject_token=" + _stepUpIdToken, secondExchange.Body, StringComparison.Ordinal); // the fresh ID token
    }

    [Fact]
    public async Task Tokens_GoOnlyWhereTheyBelong()
    {
        _network.On(HttpMethod.Post, Idp + "/token", (_, _) => FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "id-jag-1", issued_token_type = TokenTypes.IdJag, token_type = "N_A" }));
        using var client = Client();
        await client.GetAccessTokenAsync(new EmaServer("notes", Resource));
        var session = client.Session!;
        foreach (var request in _network.Requests.Where(r => !r.Url.StartsWith(Idp, StringComparison.Ordinal)))
        {
            Assert.DoesNotContain(session.IdToken, request.Body ?? string.Empty, StringComparison.Ordinal); // the ID token stays with the IdP
            Assert.DoesNotContain(session.IdToken, request.Authorization ?? string.Empty, StringComparison.Ordinal);
        }

        var redemption = _network.Requests.Single(r => r.Url == As + "/token");
        var form = Form(redemption.Body);
        Assert.Equal(GrantTypes.JwtBearer, form["grant_type"]);
        Assert.Equal("id-jag-1", form["assertion"]);
        Assert.Equal(Resource, form["resource"]);
        Assert.False(form.ContainsKey("scope")); // the ID-JAG carries the grant (decision 9)
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("agent%40as:as%2Bsecret")), redemption.Authorization); // RFC 6749 §2.3.1 encoding

        var exchange = Form(_network.Requests.Single(r => r.Url == Idp + "/token").Body);
        Assert.Equal(As, exchange["audience"]); // the AS issuer byte for byte
        Assert.Equal(Resource, exchange["resource"]);
        Assert.Equal(TokenTypes.IdJag, exchange["requested_token_type"]);
    }

    [Fact]
    public async Task AuthorizationServerWithoutARegistration_IsNotSent_TheUsersIdentity()
    {
        using var client = Client(registerAs: false);
        var ex = await Assert.ThrowsAsync<EmaProtocolException>(() => client.GetAccessTokenAsync(new EmaServer("notes", Resource)));
        Assert.Contains("no registration at " + As, ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, _network.Count(Idp + "/token")); // no ID-JAG requested for an AS the client cannot use
    }

    [Theory]
    [InlineData("N_A")]
    [InlineData("n_a")]
    [InlineData(null)]
    public async Task TokenType_OfTheIdJagResponse_AnyCaseOrMissing_IsAccepted(string? tokenType)
    {
        // Decision 12: the IdP answers N_A exactly; the client accepts any case or none (issued_token_type is what counts).
        _network.On(HttpMethod.Post, Idp + "/token", (_, _) => tokenType is null
            ? FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "id-jag-1", issued_token_type = TokenTypes.IdJag })
            : FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "id-jag-1", issued_token_type = TokenTypes.IdJag, token_type = tokenType }));
        using var client = Client();
        Assert.Equal("at-1", await client.GetAccessTokenAsync(new EmaServer("notes", Resource)));
        Assert.Equal("id-jag-1", Form(_network.Requests.Single(r => r.Url == As + "/token").Body)["assertion"]);
    }

    [Fact]
    public async Task EnterpriseMode_AnAuthorizationServerWithoutEma_IsNeverSentTheUserToItsAuthorizationEndpoint()
    {
        // Spec §2(a)39 with decision 11: in enterprise mode (the default) the client does not fall back to the server's
        // own consent flow — no browser, no authorization request, no registration; the server is reported instead.
        const string Legacy = "https://legacy-as.example";
        _network.Json("https://mcp.example/.well-known/oauth-protected-resource/mcp", new { resource = Resource, authorization_servers = new[] { Legacy } });
        _network.Json(Legacy + "/.well-known/oauth-authorization-server", new
        {
            issuer = Legacy, authorization_endpoint = Legacy + "/authorize", token_endpoint = Legacy + "/token", registration_endpoint = Legacy + "/register",
            grant_types_supported = new[] { "authorization_code" }, code_challenge_methods_supported = new[] { "S256" },
        });
        var browser = new RedirectingBrowser(this);
        using var client = Client(browser);
        await Assert.ThrowsAsync<EmaProtocolException>(() => client.GetAccessTokenAsync(new EmaServer("notes", Resource)));
        Assert.Empty(browser.Opened);
        Assert.DoesNotContain(_network.Requests, r => r.Url.StartsWith(Legacy + "/authorize", StringComparison.Ordinal) || r.Url.StartsWith(Legacy + "/register", StringComparison.Ordinal) || r.Url.StartsWith(Legacy + "/token", StringComparison.Ordinal));
        Assert.Equal(0, _network.Count(Idp + "/token")); // nor is the user's identity sent for a server that cannot use it
    }

    [Theory]
    [InlineData(true, null)] // DPoP on, the ID-JAG comes back unbound: a silent downgrade (ID-JAG §8.6.1.1 step 3)
    [InlineData(true, "someone-elses-key")] // bound to another key
    [InlineData(false, "some-key")] // no proof sent, yet bound: this client could never redeem it (spec §2(a)32)
    public async Task KeyBinding_OfTheIdJag_NotTheOneThisClientAskedFor_IsRefusedBeforeTheAuthorizationServer(bool useDpop, string? boundTo)
    {
        var claims = boundTo is null ? "{\"sub\":\"u-1\"}" : "{\"sub\":\"u-1\",\"cnf\":{\"jkt\":\"" + boundTo + "\"}}";
        var idJag = "eyJhbGciOiJFUzI1NiJ9." + Convert.ToBase64String(Encoding.UTF8.GetBytes(claims)).TrimEnd('=').Replace('+', '-').Replace('/', '_') + ".c2ln";
        _network.On(HttpMethod.Post, Idp + "/token", (_, _) => FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = idJag, issued_token_type = TokenTypes.IdJag, token_type = "N_A" }));
        using var client = Client(useDpop: useDpop);
        var ex = await Assert.ThrowsAsync<EmaProtocolException>(() => client.GetAccessTokenAsync(new EmaServer("notes", Resource)));
        Assert.Contains("ID-JAG", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, _network.Count(As + "/token"));
    }

    [Fact]
    public async Task Dpop_ProofsGoToBothTokenEndpoints_EachFreshAndForItsOwnUrl()
    {
        string? exchangeProof = null, redemptionProof = null;
        _network.On(HttpMethod.Post, Idp + "/token", (request, _) =>
        {
            exchangeProof = request.Headers.GetValues("DPoP").Single();
            var jkt = JwkThumbprintOf(exchangeProof);
            var claims = "{\"sub\":\"u-1\",\"cnf\":{\"jkt\":\"" + jkt + "\"}}";
            var idJag = "eyJhbGciOiJFUzI1NiJ9." + B64(claims) + ".c2ln";
            return FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = idJag, issued_token_type = TokenTypes.IdJag, token_type = "N_A" });
        });
        _network.On(HttpMethod.Post, As + "/token", (request, _) =>
        {
            redemptionProof = request.Headers.GetValues("DPoP").Single();
            return FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "at-1", token_type = "Bearer", expires_in = 600 });
        });
        using var client = Client(useDpop: true);
        Assert.Equal("at-1", await client.GetAccessTokenAsync(new EmaServer("notes", Resource)));

        var first = ProofClaims(exchangeProof!);
        var second = ProofClaims(redemptionProof!);
        Assert.Equal((Idp + "/token", "POST"), (first.GetProperty("htu").GetString(), first.GetProperty("htm").GetString()));
        Assert.Equal(As + "/token", second.GetProperty("htu").GetString());
        Assert.NotEqual(first.GetProperty("jti").GetString(), second.GetProperty("jti").GetString());
        Assert.Equal(JwkThumbprintOf(exchangeProof!), JwkThumbprintOf(redemptionProof!)); // one key for the client's life
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static JsonElement Segment(string jwt, int index)
    {
        var s = jwt.Split('.')[index].Replace('-', '+').Replace('_', '/');
        return JsonDocument.Parse(Convert.FromBase64String(s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '='))).RootElement;
    }

    private static JsonElement ProofClaims(string proof) => Segment(proof, 1);

    // RFC 7638 thumbprint of the proof's header jwk, computed here independently of the client's own code.
    private static string JwkThumbprintOf(string proof)
    {
        var jwk = Segment(proof, 0).GetProperty("jwk");
        var canonical = $"{{\"crv\":\"{jwk.GetProperty("crv").GetString()}\",\"kty\":\"{jwk.GetProperty("kty").GetString()}\",\"x\":\"{jwk.GetProperty("x").GetString()}\",\"y\":\"{jwk.GetProperty("y").GetString()}\"}}";
        return Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(canonical))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    [Fact]
    public async Task IssuedTokenTypeOtherThanIdJag_IsRefused()
    {
        _network.On(HttpMethod.Post, Idp + "/token", (_, _) => FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "x", issued_token_type = TokenTypes.AccessToken, token_type = "Bearer" }));
        using var client = Client();
        await Assert.ThrowsAsync<EmaProtocolException>(() => client.GetAccessTokenAsync(new EmaServer("notes", Resource)));
        Assert.Equal(0, _network.Count(As + "/token"));
    }

    private string _stepUpIdToken = string.Empty;

    private EmaClient Client(IBrowser? browser = null, bool registerAs = true, bool useDpop = false)
    {
        var options = new EmaClientOptions { IdentityProvider = Idp, IdentityProviderClient = new ClientCredentials("agent", "idp-secret"), UseCatalog = false, UseDpop = useDpop };
        if (registerAs)
        {
            options.AuthorizationServerClients[As] = new ClientCredentials("agent@as", "as+secret");
        }

        var client = new EmaClient(options, _network, browser: browser);
        client.UseIdToken(IdToken(null));
        return client;
    }

    private static string IdToken(string? nonce)
    {
        var claims = new Dictionary<string, object> { ["iss"] = Idp, ["aud"] = "agent", ["sub"] = "u-1", ["exp"] = TimeProvider.System.GetUtcNow().AddHours(1).ToUnixTimeSeconds(), ["iat"] = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds() };
        if (nonce is not null)
        {
            claims["nonce"] = nonce;
        }

        static string B64(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return B64("{\"alg\":\"ES256\",\"typ\":\"JWT\"}") + "." + B64(JsonSerializer.Serialize(claims)) + ".c2ln";
    }

    private static Dictionary<string, string> Form(string? body) =>
        (body ?? string.Empty).Split('&', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p[1].Replace('+', ' ')));

    /// <summary>Plays the IdP's authorization endpoint: takes the request's nonce into the next ID token and redirects
    /// the "browser" to the client's loopback listener with a code and the request's state.</summary>
    private sealed class RedirectingBrowser(TokenBrokerTests test) : IBrowser
    {
        public List<Uri> Opened { get; } = [];

        public async Task OpenAsync(Uri authorizationUrl, CancellationToken cancellationToken)
        {
            Opened.Add(authorizationUrl);
            var query = Form(authorizationUrl.Query.TrimStart('?'));
            test._stepUpIdToken = IdToken(query["nonce"]);
            test._network.On(HttpMethod.Post, Idp + "/token", WithCodeRedemption(test, test._stepUpIdToken));
#pragma warning disable RS0030 // the test's browser
            using var http = new HttpClient();
#pragma warning restore RS0030
            await http.GetAsync($"{query["redirect_uri"]}?code=c-1&state={Uri.EscapeDataString(query["state"])}&iss={Uri.EscapeDataString(Idp)}", cancellationToken);
        }

        private static Func<HttpRequestMessage, string?, HttpResponseMessage> WithCodeRedemption(TokenBrokerTests test, string idToken)
        {
            var exchanges = 1;
            return (_, body) => Form(body)["grant_type"] == GrantTypes.AuthorizationCode
                ? FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "idp-at-2", token_type = "Bearer", expires_in = 3600, id_token = idToken })
                : ++exchanges == 2
                    ? FakeNetwork.JsonResponse(HttpStatusCode.OK, new { access_token = "id-jag-2", issued_token_type = TokenTypes.IdJag, token_type = "n_a" })
                    : FakeNetwork.JsonResponse(HttpStatusCode.BadRequest, new { error = "invalid_request" });
        }
    }
}
