using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ema.Client.Discovery;
using Ema.Client.Http;
using Ema.Client.Session;
using Ema.Client.SignIn;
using Ema.Client.Tokens;
using Ema.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Ema.Client;

/// <summary>
/// Sign in once with the enterprise IdP, then reach every MCP server the organization enabled: the catalog of entitled
/// servers, discovery, token exchange and jwt-bearer per server, cached and renewed tokens, MCP connections.
/// </summary>
public sealed class EmaClient : IDisposable
{
    private readonly HttpMessageHandler _network;
    private readonly HttpClient _http;
    private readonly ILoggerFactory _loggerFactory;
    private readonly SessionManager _sessions;
    private readonly MetadataDiscovery _discovery;
    private readonly OidcSignIn _signIn;

    /// <param name="options">Validated here; invalid options throw at construction, not at first use.</param>
    /// <param name="network">The caller's connection pool (and TLS trust): shared by every request this client makes.</param>
    /// <param name="store">Where the session lives between runs; null keeps it in memory only.</param>
    /// <param name="browser">Shows the sign-in page; null for a client that must not prompt (step-up then fails clearly).</param>
    /// <param name="time">The clock for expiry and renewal (tests pass a fake one).</param>
    /// <param name="loggerFactory">Logs decisions by event id; never tokens.</param>
    public EmaClient(EmaClientOptions options, HttpMessageHandler network, EnterpriseSessionStore? store = null, IBrowser? browser = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(network);
        options.Validate();
        Options = options;
        _network = network;
        Time = time ?? TimeProvider.System;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _http = Wrap(network);
        _discovery = new MetadataDiscovery(_http, options);
        _signIn = new OidcSignIn(_http, options, _discovery, Time);
        _sessions = new SessionManager(_signIn, options, store, browser, Time);
        Broker = new TokenBroker(_http, options, _sessions, Time, _loggerFactory.CreateLogger("Ema.Client"))
        {
            Discovery = _discovery,
            Interactive = new InteractiveAuthorizer(_http, options, browser, Time),
        };
    }

    public EmaClientOptions Options { get; }

    internal TimeProvider Time { get; }

    internal TokenBroker Broker { get; }

    /// <summary>The signed-in user's session, or null.</summary>
    public EnterpriseSession? Session => _sessions.Current;

    /// <summary>Whether a stored session could not be read (copied from elsewhere, or its key ring is gone).</summary>
    public bool StoredSessionUnreadable => _sessions.Current is null && _sessions.LoadStatus == SessionLoadStatus.Unreadable;

    /// <summary>Token exchanges performed so far (one ID-JAG and one jwt-bearer redemption each).</summary>
    public long TokenExchanges => Broker.Exchanges;

    /// <summary>Signs in through the browser (authorization code + PKCE, loopback redirect) and stores the session.</summary>
    public Task<EnterpriseSession> SignInAsync(CancellationToken cancellationToken = default) => _sessions.SignInAsync(null, cancellationToken);

    /// <summary>
    /// Signs in through the browser asking for a fresh or stronger authentication (OIDC <c>max_age</c>,
    /// <c>acr_values</c>) — for example a second factor — and stores the session.
    /// </summary>
    public Task<EnterpriseSession> SignInAsync(StepUpRequest stepUp, CancellationToken cancellationToken = default) => _sessions.SignInAsync(stepUp, cancellationToken);

    /// <summary>Signs in with the device authorization grant (RFC 8628); <paramref name="show"/> tells the user where to go.</summary>
    public async Task<EnterpriseSession> SignInWithDeviceAsync(Func<DeviceAuthorizationResponse, Task> show, CancellationToken cancellationToken = default)
    {
        var session = await _signIn.SignInWithDeviceAsync(show, cancellationToken).ConfigureAwait(false);
        _sessions.Set(session);
        return session;
    }

    /// <summary>Adopts a session obtained elsewhere (e.g. the device flow) and stores it.</summary>
    public void UseSession(EnterpriseSession session) => _sessions.Set(session);

    /// <summary>
    /// Adopts an ID token obtained by the host's own sign-in (spec §2(a)1: the identity assertion may come from
    /// elsewhere). Its issuer, audience and expiry are checked; it came over TLS from the IdP, so its signature is not
    /// (OIDC Core §3.1.3.7 step 6). Without a refresh token it cannot be renewed: sign in again when it expires.
    /// </summary>
    public EnterpriseSession UseIdToken(string idToken, string? refreshToken = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(idToken);
        var claims = JwtPayload.Read(idToken);
        var expires = JwtPayload.Time(claims, JwtClaimNames.ExpiresAt);
        if (JwtPayload.String(claims, JwtClaimNames.Issuer) != Options.IdentityProvider
            || !JwtPayload.AudienceContains(claims, Options.IdentityProviderClient!.ClientId)
            || expires is null || expires <= Time.GetUtcNow()
            || JwtPayload.String(claims, JwtClaimNames.Subject) is not { Length: > 0 } subject)
        {
            throw new EmaProtocolException("The ID token is not for this IdP and client, or it has expired.");
        }

        var session = new EnterpriseSession
        {
            Issuer = Options.IdentityProvider,
            ClientId = Options.IdentityProviderClient.ClientId,
            Subject = subject,
            Username = JwtPayload.String(claims, JwtClaimNames.PreferredUsername) ?? JwtPayload.String(claims, JwtClaimNames.Email),
            IdToken = idToken,
            IdTokenExpiresAt = expires.Value,
            RefreshToken = refreshToken,
            SignedInAt = Time.GetUtcNow(),
        };
        _sessions.Set(session);
        return session;
    }

    /// <summary>The issuer of the authorization server that protects <paramref name="server"/> (discovery only), so
    /// that the client's registration there can be configured (credentials are per AS, spec §2(a)11).</summary>
    public async Task<string> DiscoverAuthorizationServerAsync(EmaServer server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        return (await BindAsync(server, cancellationToken).ConfigureAwait(false)).AuthorizationServer.Issuer;
    }

    /// <summary>Forgets the session locally; returns whether one was stored.</summary>
    public bool SignOut() => _sessions.SignOut();

    /// <summary>
    /// Signs out: revokes the session's refresh token at the IdP (RFC 7009: the whole sign-in's refresh tokens end there),
    /// then forgets the session locally — locally even when the IdP cannot be reached or refuses, which the result says.
    /// </summary>
    public async Task<EmaSignOutResult> SignOutAsync(CancellationToken cancellationToken = default)
    {
        // A stored session of another IdP or client is never presented to this one (SessionManager): it is only deleted.
        // Whatever happens at the IdP — even a cancellation — the session is forgotten here (SessionManager.SignOutAsync).
        var (forgotten, notRevoked) = await _sessions.SignOutAsync(
            async current =>
            {
                if (current is null)
                {
                    return "no session of this IdP and client was stored";
                }

                try
                {
                    return await _signIn.RevokeAsync(current, cancellationToken).ConfigureAwait(false);
                }
                catch (HttpRequestException ex)
                {
                    return "the IdP is unreachable: " + ex.Message;
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return "the IdP did not answer in time";
                }
                catch (EmaProtocolException ex)
                {
                    return ex.Message;
                }
            },
            cancellationToken).ConfigureAwait(false);

        return new EmaSignOutResult(forgotten, notRevoked is null, notRevoked);
    }

    /// <summary>The servers to connect to: the IdP's catalog (decision 20), then configured servers not already listed.</summary>
    public async Task<IReadOnlyList<EmaServer>> ListServersAsync(CancellationToken cancellationToken = default)
    {
        var servers = new List<EmaServer>();
        if (Options.UseCatalog)
        {
            servers.AddRange(await CatalogAsync(retry: true, cancellationToken).ConfigureAwait(false));
        }

        foreach (var configured in Options.Servers)
        {
            if (!servers.Any(s => s.Resource == configured.Resource))
            {
                servers.Add(configured);
            }
        }

        return servers;
    }

    /// <summary>An access token for <paramref name="server"/> (for callers that make their own requests).</summary>
    public async Task<string> GetAccessTokenAsync(EmaServer server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        var binding = await BindAsync(server, cancellationToken).ConfigureAwait(false);
        return (await Broker.GetAsync(binding, server.Scopes ?? binding.ScopesSupported, null, cancellationToken).ConfigureAwait(false)).AccessToken;
    }

    /// <summary>
    /// With <see cref="EmaClientOptions.UseDpop"/>: a DPoP proof (RFC 9449 §7) for one request that carries
    /// <paramref name="accessToken"/> — send it as the <c>DPoP</c> header with <c>Authorization: DPoP &lt;token&gt;</c>, a new
    /// one per request. For callers of <see cref="GetAccessTokenAsync"/> that make their own requests.
    /// </summary>
    public string CreateDpopProof(HttpMethod method, Uri url, string accessToken)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(url);
        ArgumentException.ThrowIfNullOrEmpty(accessToken);
        return Broker.ResourceProof(method.Method, url, accessToken);
    }

    /// <summary>A handler that authorizes requests to <paramref name="server"/>; put it in the <c>HttpClient</c> of the MCP
    /// SDK's <c>HttpClientTransport</c>. Its inner handler is this client's network handler.</summary>
    public EmaAuthorizationHandler CreateAuthorizationHandler(EmaServer server) => new(this, server, _network);

    /// <summary>Connects to every server of <see cref="ListServersAsync"/> in parallel; a refused or unreachable server
    /// does not stop the others.</summary>
    public async Task<IReadOnlyList<EmaConnection>> ConnectAllAsync(CancellationToken cancellationToken = default)
    {
        var servers = await ListServersAsync(cancellationToken).ConfigureAwait(false);
        var results = new EmaConnection[servers.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, servers.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Options.MaxParallelConnections, CancellationToken = cancellationToken },
            async (i, ct) => results[i] = await ConnectAsync(servers[i], ct).ConfigureAwait(false)).ConfigureAwait(false);
        return results;
    }

    /// <summary>Connects to one server: discovery, token, MCP initialize. Never throws for a refusal or an outage.</summary>
    public async Task<EmaConnection> ConnectAsync(EmaServer server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        try
        {
            // Token first: a refusal is reported as such, before any MCP traffic. (The interactive fallback instead
            // waits for the server's challenge, which names the scope to ask for.)
            if (!(await BindAsync(server, cancellationToken).ConfigureAwait(false)).Interactive)
            {
                await GetAccessTokenAsync(server, cancellationToken).ConfigureAwait(false);
            }

            var transport = new HttpClientTransport(
                new HttpClientTransportOptions { Endpoint = new Uri(server.Resource), TransportMode = HttpTransportMode.StreamableHttp, Name = server.Name },
                Wrap(CreateAuthorizationHandler(server)),
                _loggerFactory,
                ownsHttpClient: true);
            var client = await McpClient.CreateAsync(transport, ClientOptions(), _loggerFactory, cancellationToken).ConfigureAwait(false);
            return new EmaConnection(server, ConnectionStatus.Connected, client);
        }
        catch (EmaAccessDeniedException ex)
        {
            return new EmaConnection(server, ConnectionStatus.Blocked, refusal: ex.Refusal);
        }
        catch (EmaProtocolException ex)
        {
            return new EmaConnection(server, ConnectionStatus.NotSupported, problem: ex.Message);
        }
        catch (HttpRequestException ex)
        {
            return new EmaConnection(server, ConnectionStatus.Unreachable, problem: ex.HttpRequestError == HttpRequestError.Unknown ? ex.Message : $"{ex.HttpRequestError} ({ex.Message})");
        }
        catch (Exception ex) when (ex is ModelContextProtocol.McpException or IOException or TimeoutException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new EmaConnection(server, ConnectionStatus.Unreachable, problem: ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && ex is not EmaSignInRequiredException)
        {
            // One misbehaving server (a malformed answer the checks above did not anticipate) must not stop the others.
            return new EmaConnection(server, ConnectionStatus.NotSupported, problem: $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Discovery for one server, checked against what the catalog said about it.</summary>
    internal async Task<ResourceBinding> BindAsync(EmaServer server, CancellationToken cancellationToken)
    {
        if (!Options.IsAcceptableUrl(server.Resource))
        {
            throw new EmaProtocolException($"{server.Resource} is not an https URL.");
        }

        var binding = await _discovery.DiscoverResourceAsync(server.Resource, null, cancellationToken).ConfigureAwait(false);
        if (server.AuthorizationServer is { } expected && expected != binding.AuthorizationServer.Issuer)
        {
            throw new EmaProtocolException($"{server.Name}: the IdP's catalog names authorization server {expected}, the server's metadata {binding.AuthorizationServer.Issuer}.");
        }

        return binding;
    }

    private async Task<IReadOnlyList<EmaServer>> CatalogAsync(bool retry, CancellationToken cancellationToken)
    {
        var session = await _sessions.GetValidAsync(forceRenewal: false, cancellationToken).ConfigureAwait(false);
        if (session.AccessToken is null || session.AccessTokenExpiresAt <= Time.GetUtcNow())
        {
            session = await _sessions.GetValidAsync(forceRenewal: true, cancellationToken).ConfigureAwait(false);
        }

        using var response = await SendCatalogRequestAsync(session.AccessToken!, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized && retry)
        {
            await _sessions.GetValidAsync(forceRenewal: true, cancellationToken).ConfigureAwait(false);
            return await CatalogAsync(retry: false, cancellationToken).ConfigureAwait(false);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new EmaProtocolException($"The IdP's catalog answered HTTP {(int)response.StatusCode}.");
        }

        var catalog = JsonSerializer.Deserialize(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false), EmaJsonContext.Default.CatalogResponse)
            ?? throw new EmaProtocolException("The IdP's catalog is empty.");
        return [.. catalog.Servers.Select(s => new EmaServer(s.Name, s.Resource, s.AuthorizationServer, s.Scopes))];
    }

    /// <summary>
    /// GETs the catalog, trying again after transient failures — the IdP restarting, a proxy's 502/503/504, a dropped
    /// connection — at most <see cref="CatalogAttempts"/> times in all, after 0.25 s then 1 s (or the 503's Retry-After,
    /// RFC 9110 §10.2.3, up to 5 s). A GET is safe to repeat (RFC 9110 §9.2.2); a client starting beside a restarting IdP
    /// should not report "no servers".
    /// </summary>
    private async Task<HttpResponseMessage> SendCatalogRequestAsync(string accessToken, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Options.IdentityProvider.TrimEnd('/') + EmaEndpoints.CatalogPath);
            request.Headers.Authorization = new AuthenticationHeaderValue(HeaderValues.BearerScheme, accessToken);
            request.Headers.Accept.ParseAdd(MediaTypes.Json);
            var delay = attempt == 1 ? TimeSpan.FromSeconds(0.25) : TimeSpan.FromSeconds(1);
            try
            {
                var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                if (attempt >= CatalogAttempts || (int)response.StatusCode is not (502 or 503 or 504))
                {
                    return response;
                }

                if (response.Headers.RetryAfter?.Delta is { } retryAfter)
                {
                    delay = retryAfter < TimeSpan.FromSeconds(5) ? retryAfter : TimeSpan.FromSeconds(5);
                }

                response.Dispose();
            }
            catch (HttpRequestException ex) when (attempt < CatalogAttempts && ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.ResponseEnded)
            {
                // The connection was refused or dropped: tried again below. A TLS or name-resolution failure is not
                // transient and is reported at once.
            }

            await Task.Delay(delay, Time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>How many times the catalog is asked for in all before a transient failure is reported.</summary>
    public const int CatalogAttempts = 3;

    private static McpClientOptions ClientOptions() => new()
    {
        ClientInfo = new Implementation { Name = "ema", Version = typeof(EmaClient).Assembly.GetName().Version?.ToString(3) ?? "0.1.0" },

        // spec §2(a)40: declared, informational only.
        Capabilities = new ClientCapabilities { Extensions = new Dictionary<string, object> { [McpExtensions.EnterpriseManagedAuthorization] = new JsonObject() } },
    };

    // The connection pool (the handler) is the caller's; these HttpClients are thin wrappers over it, so the socket
    // exhaustion that style rule 6 guards against cannot arise. disposeHandler: false leaves the pool to its owner.
#pragma warning disable RS0030
    private static HttpClient Wrap(HttpMessageHandler handler) => new(handler, disposeHandler: false);
#pragma warning restore RS0030
}
