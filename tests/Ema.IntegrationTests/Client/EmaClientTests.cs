using System.Net;
using System.Text.Json;
using Ema.Client;
using Ema.Client.Session;
using Ema.IntegrationTests.Infrastructure;
using Ema.Testing;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Ema.IntegrationTests.Client;

/// <summary>
/// The Ema client against the real IdP, AS and sample MCP servers over https (spec §2(a)): sign-in through the page,
/// catalog, discovery, both exchanges, MCP connections, and the behaviours that make it zero-touch.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed class EmaClientTests(EmaServerFixture server)
{
    [Fact]
    public async Task ConnectAll_ConnectsToEveryEntitledServer_AndReportsAPolicyRefusalWithItsDecisionId()
    {
        // bob (finance) is entitled to the ledger and the wiki; the tickets server is configured too, but policy says no.
        using var client = await ClientHarness.SignedInAsync(server, "bob", ClientHarness.Options(server, useCatalog: true, ClientHarness.Server(server, "tickets")));
        var auditBefore = await server.AuditCountAsync();
        var connections = await client.ConnectAllAsync();
        try
        {
            Assert.Equal(["Ledger", "Wiki", "tickets"], connections.Select(c => c.Server.Name).Order(StringComparer.Ordinal));
            var ledger = connections.Single(c => c.Server.Name == "Ledger");
            Assert.Equal(ConnectionStatus.Connected, ledger.Status);
            var tools = await ledger.Client!.ListToolsAsync();
            Assert.Contains(tools, t => t.Name == "get_balance");
            var balance = await ledger.Client.CallToolAsync("get_balance", new Dictionary<string, object?> { ["account"] = "cash" });
            Assert.NotEqual(true, balance.IsError);
            Assert.Equal(ConnectionStatus.Connected, connections.Single(c => c.Server.Name == "Wiki").Status);

            var tickets = connections.Single(c => c.Server.Name == "tickets");
            Assert.Equal(ConnectionStatus.Blocked, tickets.Status);
            Assert.Equal(RefusalSource.IdentityProvider, tickets.Refusal!.Source);
            Assert.Equal("invalid_grant", tickets.Refusal.Error);
            Assert.False(string.IsNullOrEmpty(tickets.Refusal.DecisionId));
            Assert.StartsWith("blocked by your organization", tickets.Summary, StringComparison.Ordinal);
            Assert.True(await server.AuditCountAsync() >= auditBefore + 5); // 2 × (ID-JAG + redemption) + 1 refusal
        }
        finally
        {
            foreach (var c in connections)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Initialize_DeclaresTheEmaExtension_InTheClientCapabilities()
    {
        // spec §2(a)40: informational, but on the wire — read from the initialize request the client actually sent.
        var network = new CountingHandler(TrustedHttp.Handler(server.Ca));
        using var client = await ClientHarness.SignedInAsync(server, "alice", network: network);
        var connections = await client.ConnectAllAsync();
        try
        {
            Assert.Contains(connections, c => c.Status == ConnectionStatus.Connected);
            var initialize = network.McpRequestBodies.Select(b => JsonDocument.Parse(b).RootElement).First(b => b.TryGetProperty("method", out var m) && m.GetString() == "initialize");
            var extensions = initialize.GetProperty("params").GetProperty("capabilities").GetProperty("extensions");
            Assert.Equal(JsonValueKind.Object, extensions.GetProperty("io.modelcontextprotocol/enterprise-managed-authorization").ValueKind);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Dpop_TheClientsKeyBindsEachIdJag_AndTheAuthorizationServerRedeemsItWithTheProof()
    {
        // Spec §2(a)23 (MAY) and §2(a)32 (MUST): with UseDpop the IdP binds the ID-JAG to the client's key — the client
        // refuses one that comes back unbound — and the real AS redeems it only with that key's proof; the tool call works.
        var network = new CountingHandler(TrustedHttp.Handler(server.Ca));
        var options = ClientHarness.Options(server, useCatalog: false, ClientHarness.Server(server, "tickets", "tickets.read"));
        options.UseDpop = true;
        using var client = await ClientHarness.SignedInAsync(server, "alice", options, network);
        var connections = await client.ConnectAllAsync();
        try
        {
            var tickets = Assert.Single(connections);
            Assert.True(tickets.Status == ConnectionStatus.Connected, tickets.Summary);
            var tools = await tickets.Client!.ListToolsAsync();
            Assert.NotEmpty(tools);
            Assert.Contains("/idp/token", network.DpopRequestPaths);
            Assert.Contains("/as/token", network.DpopRequestPaths);
            Assert.Contains("/mcp/tickets", network.DpopRequestPaths); // the access token is bound too: a proof with every MCP request
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task SingleFlight_HundredConcurrentCallers_CauseOneExchange()
    {
        var network = new CountingHandler(TrustedHttp.Handler(server.Ca));
        using var client = await ClientHarness.SignedInAsync(server, "alice", network: network);
        var tickets = ClientHarness.Server(server, "tickets", "tickets.read");
        var tokens = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(() => client.GetAccessTokenAsync(tickets))));
        Assert.Single(tokens.Distinct());
        Assert.Equal(1, client.TokenExchanges);
        Assert.Equal(1, network.Count("/as/token"));
        server.Remember(tokens[0]);
    }

    [Fact]
    public async Task Renewal_HappensBeforeExpiry_AndCallersNeverGetAnExpiredToken()
    {
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        using var client = await ClientHarness.SignedInAsync(server, "alice", time: clock);
        var wiki = ClientHarness.Server(server, "wiki", "wiki.read");
        var first = await client.GetAccessTokenAsync(wiki);

        clock.Advance(TimeSpan.FromMinutes(9.5)); // access tokens live 10 minutes; the margin is 60 s
        var during = await client.GetAccessTokenAsync(wiki);
        Assert.Equal(first, during); // still valid: handed out while the renewal runs in the background
        var renewed = await WaitForAsync(async () => await client.GetAccessTokenAsync(wiki) is var t && t != first ? t : null);
        Assert.Equal(2, client.TokenExchanges);

        clock.Advance(TimeSpan.FromMinutes(11)); // past the renewed token's expiry: the caller waits for a new one
        var afterExpiry = await client.GetAccessTokenAsync(wiki);
        Assert.NotEqual(renewed, afterExpiry);
        Assert.Equal(3, client.TokenExchanges);
        server.Remember(first, renewed, afterExpiry);
    }

    [Fact]
    public async Task Unauthorized_FromTheServer_CausesOneReExchangeAndTheCallSucceeds()
    {
        var network = new CountingHandler(TrustedHttp.Handler(server.Ca));
        using var client = await ClientHarness.SignedInAsync(server, "alice", network: network);
        await using var connection = await client.ConnectAsync(ClientHarness.Server(server, "wiki", "wiki.read"));
        Assert.Equal(ConnectionStatus.Connected, connection.Status);
        Assert.Equal(1, client.TokenExchanges);

        // The server stops accepting the token (e.g. its keys were rotated): its next answer is a 401 challenge.
        network.FailNext("/mcp/wiki", () =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.Unauthorized);
            response.Headers.WwwAuthenticate.ParseAdd($"Bearer error=\"invalid_token\", resource_metadata=\"{server.BaseUrl}/.well-known/oauth-protected-resource/mcp/wiki\"");
            return response;
        });
        var result = await connection.Client!.CallToolAsync("read_document", new Dictionary<string, object?> { ["slug"] = "handbook" });
        Assert.NotEqual(true, result.IsError);
        Assert.Equal(2, client.TokenExchanges);
    }

    [Fact]
    public async Task InsufficientScope_FromTheServer_StepsUpToTheChallengedScope()
    {
        using var client = await ClientHarness.SignedInAsync(server, "alice", ClientHarness.Options(server, useCatalog: false));
        await using var connection = await client.ConnectAsync(ClientHarness.Server(server, "tickets", "tickets.read"));
        Assert.Equal(ConnectionStatus.Connected, connection.Status);
        Assert.DoesNotContain(await connection.Client!.ListToolsAsync(), t => t.Name == "create_ticket"); // read-only token

        var created = await connection.Client.CallToolAsync("create_ticket", new Dictionary<string, object?> { ["title"] = "Step-up works" });
        Assert.NotEqual(true, created.IsError);
        Assert.Contains("Created ticket", ((TextContentBlock)created.Content[0]).Text, StringComparison.Ordinal);
        Assert.Equal(2, client.TokenExchanges); // read, then read + write
    }

    [Fact]
    public async Task InsufficientScope_NotEntitled_IsReportedNotLooped()
    {
        // carol (contractor) has tickets.read only: the step-up exchange is refused by policy and surfaces as an error.
        using var client = await ClientHarness.SignedInAsync(server, "carol", ClientHarness.Options(server, useCatalog: false));
        await using var connection = await client.ConnectAsync(ClientHarness.Server(server, "tickets", "tickets.read"));
        Assert.Equal(ConnectionStatus.Connected, connection.Status);
        var refusal = await Assert.ThrowsAnyAsync<Exception>(() => connection.Client!.CallToolAsync("create_ticket", new Dictionary<string, object?> { ["title"] = "x" }).AsTask());
        var typed = Assert.Single(FindRefusal(refusal));
        Assert.Equal(RefusalSource.IdentityProvider, typed.Source);
        Assert.Contains("does not grant tickets.write", typed.Reason, StringComparison.Ordinal);
        Assert.Equal(2, client.TokenExchanges); // one step-up attempt, granted read only: reported, not retried
    }

    [Fact]
    public async Task UnreachableServer_IsReported_AndTheOthersStillConnect()
    {
        var dead = new EmaServer("dead", $"https://127.0.0.1:{EmaServerFixture.FreePort()}/mcp");
        using var client = await ClientHarness.SignedInAsync(server, "bob", ClientHarness.Options(server, useCatalog: false, ClientHarness.Server(server, "wiki", "wiki.read"), dead));
        var connections = await client.ConnectAllAsync();
        try
        {
            Assert.Equal(ConnectionStatus.Connected, connections.Single(c => c.Server.Name == "wiki").Status);
            var unreachable = connections.Single(c => c.Server.Name == "dead");
            Assert.Equal(ConnectionStatus.Unreachable, unreachable.Status);
            Assert.Contains("ConnectionError", unreachable.Problem, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var c in connections)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task SessionFile_IsOwnerOnly_SurvivesRestart_AndIsUselessWithAnotherKeyRing()
    {
        var profile = Path.Combine(Path.GetTempPath(), "ema-profile-" + Guid.CreateVersion7().ToString("N"));
        var elsewhere = Path.Combine(Path.GetTempPath(), "ema-profile-" + Guid.CreateVersion7().ToString("N"));
        try
        {
            var store = new EnterpriseSessionStore(profile);
            using (var client = await ClientHarness.SignedInAsync(server, "alice", store: store))
            {
                Assert.NotNull(client.Session);
            }

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.FilePath));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(profile));
            var (status, restored) = new EnterpriseSessionStore(profile).Load(); // a new process, the same profile
            Assert.Equal(SessionLoadStatus.Loaded, status);
            Assert.Equal("alice", restored!.Username);
            var raw = await File.ReadAllTextAsync(store.FilePath);
            Assert.DoesNotContain(restored.IdToken[..40], raw, StringComparison.Ordinal);

            // Another machine: the same file, a different key ring.
            var other = new EnterpriseSessionStore(elsewhere);
            File.Copy(store.FilePath, other.FilePath);
            Assert.Equal(SessionLoadStatus.Unreadable, other.Load().Status);
            using var stranger = new EmaClient(ClientHarness.Options(server), TrustedHttp.Handler(server.Ca), other);
            Assert.Null(stranger.Session);
            Assert.True(stranger.StoredSessionUnreadable);
            await Assert.ThrowsAsync<EmaSignInRequiredException>(() => stranger.GetAccessTokenAsync(ClientHarness.Server(server, "wiki")));
        }
        finally
        {
            foreach (var dir in new[] { profile, elsewhere })
            {
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
        }
    }

    [Fact]
    public async Task Catalog_TransientFailures_AreTriedAgain_AndAPersistentOneIsReported()
    {
        var network = new CountingHandler(TrustedHttp.Handler(server.Ca));
        using var client = await ClientHarness.SignedInAsync(server, "alice", network: network);
        var expected = (await client.ListServersAsync()).Select(s => s.Name).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(1, network.Count("/idp/ema/v1/catalog"));

        // The IdP restarting behind a proxy: 503 (with Retry-After), then 502, then the catalog.
        network.FailNext("/idp/ema/v1/catalog", () => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Headers = { RetryAfter = new(TimeSpan.FromMilliseconds(100)) } });
        network.FailNext("/idp/ema/v1/catalog", () => new HttpResponseMessage(HttpStatusCode.BadGateway));
        Assert.Equal(expected, (await client.ListServersAsync()).Select(s => s.Name).Order(StringComparer.Ordinal));
        Assert.Equal(4, network.Count("/idp/ema/v1/catalog"));

        // Down for longer: reported after the third attempt, with the status; a client error is not retried at all.
        for (var i = 0; i < EmaClient.CatalogAttempts; i++)
        {
            network.FailNext("/idp/ema/v1/catalog", () => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Headers = { RetryAfter = new(TimeSpan.FromMilliseconds(50)) } });
        }

        var down = await Assert.ThrowsAsync<EmaProtocolException>(() => client.ListServersAsync());
        Assert.Contains("HTTP 503", down.Message, StringComparison.Ordinal);
        Assert.Equal(4 + EmaClient.CatalogAttempts, network.Count("/idp/ema/v1/catalog"));
        network.FailNext("/idp/ema/v1/catalog", () => new HttpResponseMessage(HttpStatusCode.Forbidden));
        await Assert.ThrowsAsync<EmaProtocolException>(() => client.ListServersAsync());
        Assert.Equal(5 + EmaClient.CatalogAttempts, network.Count("/idp/ema/v1/catalog"));
    }

    [Fact]
    public async Task SessionRenewal_TwoProcessesOnOneProfile_RenewOnce_AndNeverReuseTheRotatedRefreshToken()
    {
        using var folder = new TemporaryFolder("ema-profile-");
        var (clock, network, bridge, call) = await TwoProcessesAsync(folder.Path);
        using var disposeBridge = bridge;
        using var disposeCall = call;
        var signedIn = bridge.Session!;
        Assert.Equal(signedIn.IdToken, call.Session!.IdToken);

        // Both see the ID token about to expire and renew at the same moment.
        await AdvanceIntoRenewalAsync(clock, signedIn);
        var wiki = ClientHarness.Server(server, "wiki", "wiki.read");
        var tokens = await Task.WhenAll(Task.Run(() => bridge.GetAccessTokenAsync(wiki)), Task.Run(() => call.GetAccessTokenAsync(wiki)));

        Assert.Equal(1, network.Refreshes); // one renewal; the other process took its result from the file
        Assert.NotEqual(signedIn.IdToken, bridge.Session!.IdToken);
        Assert.Equal(bridge.Session!.IdToken, call.Session!.IdToken);

        // The family is intact (a reused refresh token would have revoked it): the next renewal still works.
        await AdvanceIntoRenewalAsync(clock, bridge.Session!);
        var later = await call.GetAccessTokenAsync(ClientHarness.Server(server, "tickets", "tickets.read"));
        Assert.Equal(2, network.Refreshes);
        server.Remember([.. tokens, later, bridge.Session!.IdToken, bridge.Session.RefreshToken, call.Session!.IdToken, call.Session.RefreshToken]);

        // Signing out in one process ends the session for the other at its next renewal, instead of renewing it.
        Assert.True(call.SignOut());
        clock.Advance(bridge.Session!.IdTokenExpiresAt - clock.GetUtcNow());
        var signedOut = await Assert.ThrowsAsync<EmaSignInRequiredException>(() => bridge.GetAccessTokenAsync(ClientHarness.Server(server, "wiki", "wiki.search")));
        Assert.Contains("another ema process", signedOut.Message, StringComparison.Ordinal);
        Assert.Equal(2, network.Refreshes);
    }

    [Fact]
    public async Task SignOut_DuringAnotherProcessRenewal_WaitsForIt_RevokesTheRenewedSession_AndNothingWritesItBack()
    {
        using var folder = new TemporaryFolder("ema-profile-");
        var profile = folder.Path;
        var (clock, network, bridge, logout) = await TwoProcessesAsync(profile);
        using var disposeBridge = bridge;
        using var disposeLogout = logout;
        Assert.NotNull(logout.Session);

        // The bridge's renewal is held at the IdP's door (its refresh request sent, the answer not yet back) ...
        await AdvanceIntoRenewalAsync(clock, bridge.Session!);
        var release = network.HoldNextRefresh();
        var renewal = Task.Run(() => bridge.GetAccessTokenAsync(ClientHarness.Server(server, "wiki", "wiki.read")));
        await network.RefreshHeld.WaitAsync(TimeSpan.FromSeconds(30));

        // ... when `ema logout` runs in another process: it waits for the renewal, then revokes what it produced.
        var signOut = Task.Run(() => logout.SignOutAsync());
        await Task.Delay(300);
        Assert.False(signOut.IsCompleted);
        release.SetResult();
        await renewal;
        var result = await signOut;

        Assert.True(result.RevokedAtIdentityProvider, result.NotRevokedBecause);
        Assert.False(File.Exists(new EnterpriseSessionStore(profile).FilePath));
        var renewed = bridge.Session!;
        server.Remember(renewed.IdToken, renewed.RefreshToken, renewed.AccessToken);

        // The bridge's next renewal finds the session gone instead of writing it back; the renewed refresh token is dead.
        clock.Advance(renewed.IdTokenExpiresAt - TimeSpan.FromSeconds(59) - clock.GetUtcNow());
        await Assert.ThrowsAsync<EmaSignInRequiredException>(() => bridge.GetAccessTokenAsync(ClientHarness.Server(server, "tickets", "tickets.read")));
        Assert.False(File.Exists(new EnterpriseSessionStore(profile).FilePath));
        using var stale = new EmaClient(ClientHarness.Options(server), TrustedHttp.Handler(server.Ca), time: clock);
        stale.UseSession(renewed with { IdTokenExpiresAt = clock.GetUtcNow() });
        await Assert.ThrowsAsync<EmaSignInRequiredException>(() => stale.GetAccessTokenAsync(ClientHarness.Server(server, "tickets", "tickets.read")));
    }

    [Fact]
    public async Task SessionRenewal_AfterAnotherUserSignedInOnTheProfile_AsksForASignIn_NeverBecomesThatUser()
    {
        using var folder = new TemporaryFolder("ema-profile-");
        var profile = folder.Path;
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        using var bridge = await ClientHarness.SignedInAsync(server, "alice", store: new EnterpriseSessionStore(profile), time: clock);
        using var other = await ClientHarness.SignedInAsync(server, "bob", store: new EnterpriseSessionStore(profile), time: clock);

        clock.Advance(bridge.Session!.IdTokenExpiresAt - TimeSpan.FromSeconds(59) - clock.GetUtcNow());
        var refused = await Assert.ThrowsAsync<EmaSignInRequiredException>(() => bridge.GetAccessTokenAsync(ClientHarness.Server(server, "wiki", "wiki.read")));
        Assert.Contains("someone else", refused.Message, StringComparison.Ordinal);
        Assert.Null(bridge.Session);
        Assert.Equal(other.Session!.Subject, new EnterpriseSessionStore(profile).Load().Session!.Subject); // bob's session is left alone
    }

    [Fact]
    public async Task SessionRenewalLock_IsExclusive_AndReleasedOnDispose()
    {
        using var folder = new TemporaryFolder("ema-profile-");
        var profile = folder.Path;
        var first = new EnterpriseSessionStore(profile);
        var second = new EnterpriseSessionStore(profile);
        using (await first.LockAsync(default))
        {
            var refused = await Assert.ThrowsAsync<IOException>(() => second.LockAsync(default, attempts: 3));
            Assert.Contains("Another ema process", refused.Message, StringComparison.Ordinal);
        }

        using var again = await second.LockAsync(default, attempts: 1);
        Assert.NotNull(again);
    }

    /// <summary>Counts refresh-token grants sent to the IdP (the form is read, then sent on unchanged), and can hold the
    /// next one's answer until released.</summary>
    private sealed class RefreshCountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource? _release;
        private int _refreshes;

        public int Refreshes => Volatile.Read(ref _refreshes);

        /// <summary>Completes once a held refresh has been sent and its answer is waiting.</summary>
        public Task RefreshHeld => _held.Task;

        public TaskCompletionSource HoldNextRefresh() => _release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is FormUrlEncodedContent form && (await form.ReadAsStringAsync(cancellationToken)).Contains("grant_type=refresh_token", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _refreshes);
                if (Interlocked.Exchange(ref _release, null) is { } release)
                {
                    var response = await base.SendAsync(request, cancellationToken);
                    _held.TrySetResult();
                    await release.Task.WaitAsync(cancellationToken);
                    return response;
                }
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>
    /// Two clients on one profile folder, as an <c>ema bridge</c> and an <c>ema call</c> would be: each its own store
    /// object, the same files and clock; the first signed in as alice (the second loads her session from the file), both
    /// on a network handler that counts refresh grants.
    /// </summary>
    private async Task<(FakeTimeProvider Clock, RefreshCountingHandler Network, EmaClient First, EmaClient Second)> TwoProcessesAsync(string profile)
    {
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var network = new RefreshCountingHandler(TrustedHttp.Handler(server.Ca));
        var first = await ClientHarness.SignedInAsync(server, "alice", network: network, store: new EnterpriseSessionStore(profile), time: clock);
        return (clock, network, first, new EmaClient(ClientHarness.Options(server), network, new EnterpriseSessionStore(profile), time: clock));
    }

    /// <summary>
    /// Moves the client's clock into the 60-second renewal margin of <paramref name="session"/>'s ID token. The IdP stamps
    /// <c>exp</c> in whole seconds of the real clock: after two real seconds its next token is fresh on this clock.
    /// </summary>
    private static async Task AdvanceIntoRenewalAsync(FakeTimeProvider clock, EnterpriseSession session)
    {
        await Task.Delay(TimeSpan.FromSeconds(2.1));
        clock.Advance(session.IdTokenExpiresAt - TimeSpan.FromSeconds(59) - clock.GetUtcNow());
    }

    private static IEnumerable<EmaRefusal> FindRefusal(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is EmaAccessDeniedException denied)
            {
                yield return denied.Refusal;
            }
        }
    }

    private static async Task<string> WaitForAsync(Func<Task<string?>> probe)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            await Task.Delay(25);
        }

        throw new TimeoutException("the background renewal did not complete");
    }
}
