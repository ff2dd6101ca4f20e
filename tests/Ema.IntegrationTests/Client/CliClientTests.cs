using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using IdentityProvider = Ema.IntegrationTests.IdentityProvider;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Ema.IntegrationTests.Client;

/// <summary>
/// The <c>ema</c> executable as a user runs it (a separate process, the real IdP over https): login through the printed
/// URL, status, servers, tools, call, refusals with exit codes and readable messages, logout, and the stdio bridge
/// driven by the MCP C# SDK client. Also the quickstart, end to end.
/// </summary>
[Collection(EmaServerCollection.Name)]
public sealed partial class CliClientTests(EmaServerFixture server) : IDisposable
{
    private readonly string _profile = Path.Combine(Path.GetTempPath(), "ema-cli-" + Guid.CreateVersion7().ToString("N"));

    private static string Ema => Path.Combine(AppContext.BaseDirectory, "ema.dll");

    public void Dispose()
    {
        if (Directory.Exists(_profile))
        {
            Directory.Delete(_profile, recursive: true);
        }
    }

    [Fact]
    public async Task LoginServersToolsCallLogout_WorkAsAUserRunsThem()
    {
        await LoginAsync("alice");

        var status = await RunAsync("status", "--json");
        Assert.Equal(0, status.Code);
        Assert.True(JsonDocument.Parse(status.Out).RootElement.GetProperty("signedIn").GetBoolean());

        var servers = await RunAsync("servers", "--json");
        Assert.Equal(0, servers.Code);
        var list = JsonDocument.Parse(servers.Out).RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("server").GetString()!, e => e);
        Assert.Equal("connected", list["Tickets"].GetProperty("status").GetString());
        Assert.Equal("connected", list["Wiki"].GetProperty("status").GetString());
        Assert.Equal("blocked", list["Ledger"].GetProperty("status").GetString());
        Assert.StartsWith("dec_", list["Ledger"].GetProperty("decisionId").GetString(), StringComparison.Ordinal);

        var tools = await RunAsync("tools", "Tickets");
        Assert.Equal(0, tools.Code);
        Assert.Contains("create_ticket", tools.Out, StringComparison.Ordinal);

        var call = await RunAsync("call", "Tickets", "get_ticket", "{\"id\":1}");
        Assert.Equal(0, call.Code);
        Assert.Contains("#1 [", call.Out, StringComparison.Ordinal);

        var blocked = await RunAsync("call", "Ledger", "get_balance", "{\"account\":\"cash\"}");
        Assert.Equal(ExitCodes.Blocked, blocked.Code);
        Assert.Contains("blocked by your organization", blocked.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", blocked.Err, StringComparison.Ordinal); // no stack trace for an expected failure

        var badArgs = await RunAsync("call", "Tickets", "get_ticket", "not json");
        Assert.Equal(ExitCodes.Usage, badArgs.Code);
        Assert.Contains("json-args must be a JSON object", badArgs.Err, StringComparison.Ordinal);

        Assert.Equal(ExitCodes.Usage, (await RunAsync("call", "Nowhere", "x")).Code);

        // Logout revokes the sign-in's refresh tokens at the IdP (RFC 7009), then deletes the local session.
        var audit = server.App.Services.GetRequiredService<global::Ema.Server.Audit.IAuditReader>();
        var revocation = new global::Ema.Server.Audit.AuditQuery { Type = global::Ema.Server.Audit.AuditEventTypes.TokenRevocation, Subject = "usr-alice", Limit = 1000 };
        var revocationsBefore = (await audit.ListAsync(revocation, default)).Count(e => e.Outcome == global::Ema.Server.Audit.AuditOutcomes.Succeeded && e.ClientId == DemoSeed.AgentClientId);
        var logout = await RunAsync("logout");
        Assert.True(logout.Code == 0, logout.Err);
        Assert.Contains("the IdP revoked this sign-in's refresh tokens", logout.Out, StringComparison.Ordinal);
        Assert.Equal(revocationsBefore + 1, (await audit.ListAsync(revocation, default)).Count(e => e.Outcome == global::Ema.Server.Audit.AuditOutcomes.Succeeded && e.ClientId == DemoSeed.AgentClientId));
        Assert.Contains("Not signed in", (await RunAsync("logout")).Out, StringComparison.Ordinal);
        var after = await RunAsync("servers");
        Assert.Equal(ExitCodes.SignInRequired, after.Code);
        Assert.Contains("Not signed in", after.Err, StringComparison.Ordinal);
        foreach (var secret in server.Secrets)
        {
            Assert.DoesNotContain(secret, status.Out + servers.Out + call.Out + blocked.Err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Bridge_IsAStdioMcpServer_ExposingEveryEntitledServersToolsUnderNamespacedNames()
    {
        // With --dpop: the bridge's every ID-JAG is bound to its in-memory key and redeemed with its proof (RFC 9449).
        await LoginAsync("bob", dpop: true);
        Assert.Contains("\"UseDpop\": true", await File.ReadAllTextAsync(Path.Combine(_profile, "client.json")), StringComparison.Ordinal);
        var transport = new StdioClientTransport(new StdioClientTransportOptions { Command = "dotnet", Arguments = [Ema, "bridge", "--profile", _profile], Name = "ema-bridge" });
        await using var client = await McpClient.CreateAsync(transport);
        var tools = await client.ListToolsAsync();
        Assert.Contains(tools, t => t.Name == "ledger__get_balance");
        Assert.Contains(tools, t => t.Name == "wiki__search_documents");
        Assert.DoesNotContain(tools, t => t.Name.StartsWith("tickets__", StringComparison.Ordinal)); // bob's policy: no tickets

        var balance = await client.CallToolAsync("ledger__get_balance", new Dictionary<string, object?> { ["account"] = "cash" });
        Assert.NotEqual(true, balance.IsError);
        Assert.Matches(@"^\d", ((TextContentBlock)balance.Content[0]).Text);
        var unknown = await client.CallToolAsync("nowhere__x", new Dictionary<string, object?>());
        Assert.True(unknown.IsError);
    }

    [Fact]
    public async Task LoginDevice_PrintsACode_AndSignsInOnceTheUserApprovesElsewhere()
    {
        using var process = Start("login", "--device", "--idp", server.Issuer, "--client-id", DemoSeed.AgentClientId, "--client-secret", server.Demo.ClientSecret, "--ca", Path.Combine(server.DataDirectory, "tls", "ca.crt"));
        string? complete = null;
        while (complete is null && await process.StandardError.ReadLineAsync() is { } line)
        {
            complete = DeviceUrl().Match(line) is { Success: true } m ? m.Value : null;
        }

        Assert.NotNull(complete);
        var approved = await IdentityProvider.DeviceAuthorizationTests.ApproveAsync(server, complete, "carol", server.Password("carol"));
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        var output = await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, output + await process.StandardError.ReadToEndAsync());
        Assert.Contains("Signed in as Carol Chen", output, StringComparison.Ordinal);
        Assert.Equal(0, (await RunAsync("status")).Code);
    }

    [GeneratedRegex(@"https://\S+/device\?user_code=\S+")]
    private static partial Regex DeviceUrl();

    [Fact]
    public async Task Quickstart_ExitJson_ConnectsBlocksAndAudits()
    {
        var data = Path.Combine(_profile, "qs");
        var run = await RunAsync("quickstart", "--exit", "--json", "--port", "0", "--data", data);
        Assert.True(run.Code == 0, run.Err);
        var summary = JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal("alice", summary.GetProperty("user").GetString());
        var connected = summary.GetProperty("connected").EnumerateArray().ToList();
        Assert.True(connected.Count >= 2);
        Assert.All(connected, c => Assert.NotEmpty(c.GetProperty("tools").EnumerateArray()));
        var blocked = Assert.Single(summary.GetProperty("blocked").EnumerateArray());
        Assert.False(string.IsNullOrEmpty(blocked.GetProperty("reason").GetString()));
        Assert.StartsWith("dec_", blocked.GetProperty("decisionId").GetString(), StringComparison.Ordinal);
        Assert.True(summary.GetProperty("auditEvents").GetInt32() >= 5);
        Assert.False(summary.GetProperty("call").GetProperty("isError").GetBoolean());

        // The audit trail of that run: intact, exportable, and any edit is found at its record.
        var verify = await RunAsync("audit", "verify", "--data", data);
        Assert.True(verify.Code == 0, verify.Err);
        Assert.Contains("Audit trail intact", verify.Out, StringComparison.Ordinal);
        Assert.Matches("sealed from record #1[^0-9]", verify.Out); // every block of the run carries its seal
        var export = await RunAsync("audit", "export", "--data", data);
        var exported = export.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.True(exported.Count >= summary.GetProperty("auditEvents").GetInt32());
        Assert.All(exported, r => Assert.Matches("^[0-9a-f]{64}$", r.GetProperty("hash").GetString()));
        var denied = exported.First(r => r.GetProperty("outcome").GetString() == "denied");
        await Audit.AuditTamper.EditAsync(Path.Combine(data, "ema.db"), denied.GetProperty("seq").GetInt64(), line =>
        {
            line[Audit.AuditTamper.Outcome] = "granted";
            return line;
        });

        var broken = await RunAsync("audit", "verify", "--data", data);
        Assert.Equal(1, broken.Code);
        Assert.Contains($"not intact at record #{denied.GetProperty("seq").GetInt64()}", broken.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminLoginAndApi_ManageARunningIdpThroughItsAdminApi_WithAReadableRefusalAndLogout()
    {
        // An admin of their own (a one-time code is good once: no other test may spend this user's codes).
        var services = server.App.Services;
        var directory = services.GetRequiredService<global::Ema.Server.Stores.IDirectoryStore>();
        var password = global::Ema.Server.Security.SecretHasher.NewSecret()[..16];
        server.Secrets.Add(password);
        Assert.True(await directory.CreateUserAsync(new global::Ema.Server.Model.User("usr-cliadmin", "cliadmin", "CLI Admin", null, global::Ema.Server.Model.UserStatus.Active), services.GetRequiredService<global::Ema.Server.Security.PasswordHasher>().Hash(password), default));
        await directory.AddRoleAsync("usr-cliadmin", "admin", default);
        await server.EnrolTotpAsync("cliadmin", "usr-cliadmin");
        var secret = global::Ema.Server.Security.Totp.FromBase32(server.TotpSecrets["cliadmin"]);

        var notYet = await RunAsync("admin", "api", "GET", "/users");
        Assert.Equal(ExitCodes.SignInRequired, notYet.Code);
        Assert.Contains("run ema admin login", notYet.Err, StringComparison.Ordinal);

        using (var login = Start("admin", "login", "--server", server.Issuer, "--ca", Path.Combine(server.DataDirectory, "tls", "ca.crt")))
        {
            string? url = null;
            while (url is null && await login.StandardError.ReadLineAsync() is { } line)
            {
                url = SignInUrl().Match(line) is { Success: true } m ? m.Value : null;
            }

            Assert.NotNull(url);
            Assert.Contains("acr_values=", url, StringComparison.Ordinal); // the second factor is asked for
            await new PageSignInBrowser(TrustedHttp.Handler(server.Ca, new CookieContainer()), "cliadmin", password, () => global::Ema.Server.Security.Totp.Code(secret, global::Ema.Server.Security.Totp.StepAt(TimeProvider.System.GetUtcNow()))).OpenAsync(new Uri(url), default);
            var output = await login.StandardOutput.ReadToEndAsync();
            await login.WaitForExitAsync();
            Assert.True(login.ExitCode == 0, output + await login.StandardError.ReadToEndAsync());
            Assert.Contains("as cliadmin", output, StringComparison.Ordinal);
        }

        var groups = await RunAsync("admin", "api", "GET", "/groups");
        Assert.Equal(0, groups.Code);
        Assert.Contains("grp-engineering", groups.Out, StringComparison.Ordinal);

        var created = await RunAsync("admin", "api", "post", "/groups", "--body", "{\"id\":\"grp-cli-api\",\"name\":\"Made by the CLI\"}");
        Assert.True(created.Code == 0, created.Err);
        Assert.Contains("Created group grp-cli-api", created.Out, StringComparison.Ordinal);
        Assert.Contains(await directory.ListGroupsAsync(default), g => g.Id == "grp-cli-api");
        var audit = await services.GetRequiredService<global::Ema.Server.Audit.IAuditReader>().ListAsync(new global::Ema.Server.Audit.AuditQuery { Type = global::Ema.Server.Audit.AuditEventTypes.AdminChange, Limit = 100 }, default);
        Assert.Single(audit, e => e.Action == "group_create" && e.Resource == "grp-cli-api" && e.Subject == "usr-cliadmin");

        var refused = await RunAsync("admin", "api", "POST", "/groups", "--body", "{\"id\":\"bad id\",\"name\":\"x\"}");
        Assert.Equal(ExitCodes.Failed, refused.Code);
        Assert.Contains("ema: A group needs", refused.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", refused.Err, StringComparison.Ordinal); // a message, not a stack trace

        var badJson = await RunAsync("admin", "api", "POST", "/groups", "--body", "{not json");
        Assert.Equal(ExitCodes.Usage, badJson.Code);

        // The token goes to the admin API only: encoded dot segments cannot walk it to another path of the host.
        var escape = await RunAsync("admin", "api", "GET", "/%2e%2e/%2e%2e/%2e%2e/idp/userinfo");
        Assert.Equal(ExitCodes.Usage, escape.Code);
        Assert.Contains("not a path under /admin/api/v1", escape.Err, StringComparison.Ordinal);

        // The named commands take --remote: the same change through the API, printed as on the data folder.
        var remoteGroup = await RunAsync("admin", "groups", "add", "--id", "grp-remote", "--name", "Remote", "--remote");
        Assert.True(remoteGroup.Code == 0, remoteGroup.Err);
        var remoteUser = await RunAsync("admin", "users", "add", "--username", "rita", "--group", "grp-remote", "--remote");
        Assert.True(remoteUser.Code == 0, remoteUser.Err);
        server.Secrets.Add(remoteUser.Out.Split("store it now): ")[1].Trim());
        var rita = await directory.FindUserByUsernameAsync("rita", default);
        Assert.Contains("grp-remote", await directory.GetGroupIdsAsync(rita!.Id, default));

        // Helpdesk: rita locked out (three counted failures), unlocked through the API.
        for (var i = 0; i < 3; i++)
        {
            await directory.BeginSignInAttemptAsync(rita.Id, DateTimeOffset.UnixEpoch.AddYears(100), n => n >= 3 ? DateTimeOffset.MaxValue : null, default);
        }

        var unlocked = await RunAsync("admin", "users", "unlock", "rita", "--remote");
        Assert.True(unlocked.Code == 0, unlocked.Err);
        Assert.Equal(0, (await directory.GetCredentialsAsync(rita.Id, default))!.FailedAttempts);
        Assert.Null((await directory.GetCredentialsAsync(rita.Id, default))!.LockedUntil);
        // More users than one answer of the API holds (1,000): the listing pages on and misses no one — also past names
        // on which UTF-16 and code point order disagree (the store accepts what the console's pattern would refuse).
        for (var i = 0; i < 1000; i++)
        {
            var bulk = $"bulk{i:D4}";
            Assert.True(await directory.CreateUserAsync(new global::Ema.Server.Model.User("usr-" + bulk, bulk, bulk, null, global::Ema.Server.Model.UserStatus.Disabled), "not-a-password-hash", default));
        }

        foreach (var (id, name) in new[] { ("usr-zzz-fullwidth", "zzz\uFF42"), ("usr-zzz-emoji", "zzz\U0001F600") })
        {
            Assert.True(await directory.CreateUserAsync(new global::Ema.Server.Model.User(id, name, name, null, global::Ema.Server.Model.UserStatus.Disabled), "not-a-password-hash", default));
        }

        var remoteList = await RunAsync("admin", "users", "list", "--remote");
        Assert.Equal(0, remoteList.Code);
        Assert.Contains("\"rita\"", remoteList.Out, StringComparison.Ordinal);
        using (var allUsers = JsonDocument.Parse(remoteList.Out))
        {
            var names = allUsers.RootElement.EnumerateArray().Select(u => u.GetProperty("username").GetString()).ToList();
            Assert.Equal((await directory.ListUsersAsync(default)).Select(u => u.Username).Order(global::Ema.Admin.Api.UserOrder.Comparer), names);
        }

        var changes = await services.GetRequiredService<global::Ema.Server.Audit.IAuditReader>().ListAsync(new global::Ema.Server.Audit.AuditQuery { Type = global::Ema.Server.Audit.AuditEventTypes.AdminChange, Limit = 200 }, default);
        Assert.Contains(changes, e => e.Action == "user_create" && e.Resource == rita.Id && e.Subject == "usr-cliadmin"); // the signed-in admin, not --by
        Assert.Contains(changes, e => e.Action == "group_member_add" && e.Resource == rita.Id && e.Subject == "usr-cliadmin");

        var mySessions = await RunAsync("admin", "sessions", "list", "--user", "cliadmin", "--remote");
        Assert.Equal(0, mySessions.Code);
        var listed = JsonDocument.Parse(mySessions.Out).RootElement.EnumerateArray().Select(e => e.GetProperty("username").GetString()).ToList();
        Assert.NotEmpty(listed);
        Assert.All(listed, u => Assert.Equal("cliadmin", u)); // --user is applied remotely too

        // A policy through the API: refused with its line, nothing applied (a valid one would change the shared IdP).
        var policies = services.GetRequiredService<global::Ema.Server.Policy.IPolicyStore>();
        var versionsBefore = (await policies.ListAsync(default)).Count;
        var badPolicy = Path.Combine(_profile, "bad-policy.yaml");
        await File.WriteAllTextAsync(badPolicy, "version: 1\ndefault: deny\nrules:\n  - id: a\n    effect: permit\n");
        var refusedPolicy = await RunAsync("admin", "policy", "import", badPolicy, "--remote");
        Assert.Equal(ExitCodes.Failed, refusedPolicy.Code);
        Assert.Contains("policy:5: ", refusedPolicy.Err, StringComparison.Ordinal);
        Assert.Equal(versionsBefore, (await policies.ListAsync(default)).Count);
        Assert.Equal(0, (await RunAsync("admin", "policy", "history", "--remote")).Code);

        // Checks and what-ifs through the API change nothing: the server's parser finds the same line, a valid candidate
        // is evaluated without being stored, and export prints what is in force (or says there is none).
        var remoteCheck = await RunAsync("admin", "policy", "validate", badPolicy, "--remote");
        Assert.Equal(1, remoteCheck.Code);
        Assert.Contains("bad-policy.yaml:5: ", remoteCheck.Err, StringComparison.Ordinal);
        var candidate = Path.Combine(_profile, "candidate-policy.yaml");
        await File.WriteAllTextAsync(candidate, "version: 1\ndefault: deny\nrules:\n  - id: eng-tickets\n    effect: allow\n    subjects: { groups: [grp-engineering] }\n    resources: [res-tickets]\n    scopes: [tickets.read]\n");
        var candidateCheck = await RunAsync("admin", "policy", "validate", candidate, "--remote");
        Assert.True(candidateCheck.Code == 0, candidateCheck.Err);
        Assert.Contains("valid — 1 rules", candidateCheck.Out, StringComparison.Ordinal);
        var whatIf = await RunAsync("admin", "policy", "simulate", "--remote", "--file", candidate, "--user", "alice", "--client", DemoSeed.AgentClientId, "--resource", "res-tickets", "--scope", "tickets.read");
        Assert.True(whatIf.Code == 0, whatIf.Out + whatIf.Err);
        Assert.StartsWith("ALLOW tickets.read", whatIf.Out, StringComparison.Ordinal);
        Assert.Contains("eng-tickets", whatIf.Out, StringComparison.Ordinal);
        var whatIfDenied = await RunAsync("admin", "policy", "simulate", "--remote", "--file", candidate, "--user", "alice", "--client", DemoSeed.AgentClientId, "--resource", "res-ledger", "--scope", "ledger.read");
        Assert.Equal(3, whatIfDenied.Code);
        Assert.StartsWith("DENY ", whatIfDenied.Out, StringComparison.Ordinal);
        var whatIfBad = await RunAsync("admin", "policy", "simulate", "--remote", "--file", badPolicy, "--user", "alice", "--client", DemoSeed.AgentClientId, "--resource", "res-tickets");
        Assert.Equal(ExitCodes.Failed, whatIfBad.Code);
        Assert.Contains("policy:5: ", whatIfBad.Err, StringComparison.Ordinal);
        Assert.Equal(versionsBefore, (await policies.ListAsync(default)).Count);
        var inForce = await policies.GetCurrentAsync(default);
        var exported = await RunAsync("admin", "policy", "export", "--remote");
        if (inForce is null)
        {
            Assert.Equal(ExitCodes.Failed, exported.Code);
            Assert.Contains("No policy has been imported", exported.Err, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(0, exported.Code);
            Assert.Equal(inForce.Yaml, exported.Out);
        }

        var noSuchVersion = await RunAsync("admin", "policy", "export", "--remote", "--version", "99999");
        Assert.Equal(ExitCodes.Failed, noSuchVersion.Code);
        Assert.Contains("no policy version 99999", noSuchVersion.Err, StringComparison.Ordinal);

        // The running IdP's audit trail through the API: verified where it is stored, and exported as the same lines the
        // data folder's export writes (one serializer), from any sequence number on.
        var trail = services.GetRequiredService<global::Ema.Server.Audit.IAuditTrail>();

        // More records than one page of the export (1,000): the whole trail comes out once, in order, nothing repeated.
        var sink = services.GetRequiredService<global::Ema.Server.Audit.IAuditSink>();
        await Task.WhenAll(Enumerable.Range(0, 1001).Select(i => sink.WriteAsync(new global::Ema.Server.Audit.AuditEvent
        {
            Id = $"aud_bulk{i:D4}",
            Time = TimeProvider.System.GetUtcNow(),
            Type = global::Ema.Server.Audit.AuditEventTypes.SignIn,
            Outcome = global::Ema.Server.Audit.AuditOutcomes.Denied,
            Reason = "bulk record for the export paging test",
        }, default)));
        var stored = await trail.ReadAfterAsync(0, 0, default);
        var wholeExport = await RunAsync("audit", "export", "--remote");
        Assert.True(wholeExport.Code == 0, wholeExport.Err);
        var exportedSequences = wholeExport.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()).ToList();
        Assert.True(exportedSequences.Count > 1000, $"{exportedSequences.Count} records");
        Assert.Equal(stored.Select(r => r.Sequence), exportedSequences.Take(stored.Count));
        Assert.Equal(exportedSequences.Order(), exportedSequences);
        Assert.Equal(exportedSequences.Count, exportedSequences.Distinct().Count());
        var remoteVerify = await RunAsync("audit", "verify", "--remote", "--json");
        Assert.True(remoteVerify.Code == 0, remoteVerify.Err);
        using (var report = JsonDocument.Parse(remoteVerify.Out))
        {
            Assert.True(report.RootElement.GetProperty("intact").GetBoolean());
            Assert.True(report.RootElement.GetProperty("records").GetInt64() >= stored.Count);
        }

        var from = stored[^3].Sequence - 1;
        var remoteExport = await RunAsync("audit", "export", "--remote", "--after", from.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(remoteExport.Code == 0, remoteExport.Err);
        var expected = stored.Skip(stored.Count - 3).Select(r => JsonSerializer.Serialize(global::Ema.Admin.Api.AuditExportRecord.From(r.Sequence, r.Hash, r.Event), AuditJson.Default.AuditExportRecord)).ToList();
        Assert.Equal(expected, remoteExport.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(3).ToList());
        var remoteTail = await RunAsync("audit", "tail", "--remote", "--lines", "2");
        Assert.True(remoteTail.Code == 0, remoteTail.Err);
        var tailLines = remoteTail.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, tailLines.Length);
        Assert.StartsWith($"#{(await trail.LastSequenceAsync(default)).ToString(System.Globalization.CultureInfo.InvariantCulture),-6} ", tailLines[1], StringComparison.Ordinal);

        // The stored sign-in is encrypted: its access token is not in any file of the profile.
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_profile, "admin"), "*", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain("eyJ", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }

        // Logout ends the sign-in at the IdP too: its session is revoked (one audit record naming the admin), not only forgotten here.
        var grants = services.GetRequiredService<global::Ema.Server.Stores.IGrantStore>();
        var liveBefore = (await grants.ListSessionsAsync("usr-cliadmin", default)).Where(s => !s.Revoked).Select(s => s.Id).ToList();
        var logout = await RunAsync("admin", "logout");
        Assert.True(logout.Code == 0, logout.Err);
        Assert.Contains("the IdP session is revoked", logout.Out, StringComparison.Ordinal);
        var liveAfter = (await grants.ListSessionsAsync("usr-cliadmin", default)).Where(s => !s.Revoked).Select(s => s.Id).ToList();
        var ended = Assert.Single(liveBefore.Except(liveAfter));
        var revocations = await services.GetRequiredService<global::Ema.Server.Audit.IAuditReader>().ListAsync(new global::Ema.Server.Audit.AuditQuery { Type = global::Ema.Server.Audit.AuditEventTypes.AdminChange, Limit = 500 }, default);
        Assert.Single(revocations, e => e.Action == "session_revoke" && e.SessionId == ended && e.Subject == "usr-cliadmin");
        Assert.Equal(ExitCodes.SignInRequired, (await RunAsync("admin", "api", "GET", "/users")).Code);
        Assert.Contains("Not signed in", (await RunAsync("admin", "logout")).Out, StringComparison.Ordinal);
        var earlierExport = Path.Combine(_profile, "earlier-export.jsonl");
        await File.WriteAllTextAsync(earlierExport, "{\"seq\":1}\n");
        var signedOut = await RunAsync("audit", "export", "--remote", "--out", earlierExport);
        Assert.Equal(ExitCodes.SignInRequired, signedOut.Code);
        Assert.Contains("run ema admin login", signedOut.Err, StringComparison.Ordinal);
        Assert.Equal("{\"seq\":1}\n", await File.ReadAllTextAsync(earlierExport)); // a refused export leaves the last one intact
    }

    /// <summary><c>ema login</c> writes the profile and prints the sign-in URL; the test is the person with the browser.</summary>
    private async Task LoginAsync(string username, bool dpop = false)
    {
        string[] args = ["login", "--idp", server.Issuer, "--client-id", DemoSeed.AgentClientId, "--client-secret", server.Demo.ClientSecret,
            "--as", $"{server.BaseUrl}/as={DemoSeed.AgentClientId}:{server.Demo.AuthorizationServerClientSecret}",
            "--server", $"Ledger={server.BaseUrl}/mcp/ledger", "--server", $"Tickets={server.BaseUrl}/mcp/tickets",
            "--ca", Path.Combine(server.DataDirectory, "tls", "ca.crt")];
        var start = Start(dpop ? [.. args, "--dpop"] : args);
        using var process = start;
        string? url = null;
        while (url is null && await process.StandardError.ReadLineAsync() is { } line)
        {
            url = SignInUrl().Match(line) is { Success: true } m ? m.Value : null;
        }

        Assert.NotNull(url);
        await new PageSignInBrowser(TrustedHttp.Handler(server.Ca, new CookieContainer()), username, server.Password(username)).OpenAsync(new Uri(url), default);
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, url + "\n" + output + await process.StandardError.ReadToEndAsync());
        Assert.Contains("Signed in as", output, StringComparison.Ordinal);
        var profile = await File.ReadAllTextAsync(Path.Combine(_profile, "client.json"));
        Assert.DoesNotContain(server.Demo.ClientSecret, profile, StringComparison.Ordinal); // stored encrypted
    }

    private Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        info.ArgumentList.Add(Ema);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.ArgumentList.Add("--profile");
        info.ArgumentList.Add(_profile);
        info.Environment["DISPLAY"] = string.Empty; // never open a real browser
        return Process.Start(info)!;
    }

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        using var process = Start(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [GeneratedRegex(@"https://\S+/authorize\?\S+")]
    private static partial Regex SignInUrl();
}
