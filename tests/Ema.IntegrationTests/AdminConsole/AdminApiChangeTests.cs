using System.Text;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ema.Server.Audit;
using Ema.Server.Policy;
using Ema.Server.Stores;
using Ema.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.AdminConsole;

/// <summary>The admin API's changes over real https: the console's operations, its step-up rule, same-origin only, one-time secrets.</summary>
public sealed class AdminApiChangeTests(ConsoleServerFixture server) : IClassFixture<ConsoleServerFixture>
{
    private string Api => server.BaseUrl + "/admin/api/v1";

    [Fact]
    public async Task AdminApi_Changes_AreTheConsolesChanges_EachAuditedOnce_AndTheFirstPasswordIsShownOnlyInTheResponse()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);

        var group = await ChangeAsync(alice, HttpMethod.Post, "/groups", new { id = "grp-api", name = "API made" });
        Assert.Equal("Created group grp-api.", group.GetProperty("message").GetString());
        var user = await ChangeAsync(alice, HttpMethod.Post, "/users", new { username = "ivy", displayName = "Ivy", department = "research" });
        var password = user.GetProperty("oneTimeSecret").GetString()!;
        Assert.Equal(20, password.Length);
        server.Secrets.Add(password);
        await ChangeAsync(alice, HttpMethod.Post, "/groups/grp-api/members", new { username = "ivy" });
        await ChangeAsync(alice, HttpMethod.Post, "/users/ivy/roles", new { role = "auditor" });
        await ChangeAsync(alice, HttpMethod.Delete, "/users/ivy/roles/auditor", null);

        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        var ivy = await directory.FindUserByUsernameAsync("ivy", default);
        Assert.NotNull(ivy);
        Assert.Contains("grp-api", await directory.GetGroupIdsAsync(ivy.Id, default));
        Assert.DoesNotContain("auditor", await directory.GetRolesAsync(ivy.Id, default));

        // Listed again: never the password or its hash.
        var users = await alice.Http.GetStringAsync(Api + "/users");
        Assert.Contains("\"ivy\"", users, StringComparison.Ordinal);
        Assert.DoesNotContain(password, users, StringComparison.Ordinal);
        Assert.DoesNotContain("hash", users, StringComparison.OrdinalIgnoreCase);

        var audit = (await server.AuditAsync(AuditEventTypes.AdminChange)).Where(e => e.Subject == "usr-alice").ToList();
        Assert.Single(audit, e => e.Action == "group_create" && e.Resource == "grp-api");
        Assert.Single(audit, e => e.Action == "user_create" && e.Resource == ivy.Id);
        Assert.Single(audit, e => e.Action == "group_member_add" && e.Resource == ivy.Id);
        Assert.DoesNotContain(audit, e => (e.Reason ?? string.Empty).Contains(password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AdminApi_InvalidPolicy_IsRefusedWithLineNumbers_AndNothingIsApplied_ThenImportAndRollback()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var policies = server.App.Services.GetRequiredService<IPolicyStore>();
        var before = (await policies.ListAsync(default)).Count;

        using (var refused = await SendAsync(alice, HttpMethod.Put, "/policy", new { yaml = "version: 1\ndefault: deny\nrules:\n  - id: a\n    effect: permit\n" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            var error = problem.RootElement.GetProperty("errors").EnumerateArray().Single();
            Assert.Equal(5, error.GetProperty("line").GetInt32());
            Assert.Contains("allow or deny", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(before, (await policies.ListAsync(default)).Count);

        await ChangeAsync(alice, HttpMethod.Put, "/policy", new { yaml = "version: 1\ndefault: deny\nrules:\n  - { id: engineering-wiki, effect: allow, subjects: { groups: [grp-engineering] }, resources: [res-wiki] }\n", comment = "wiki only" });
        var imported = await policies.GetCurrentAsync(default);
        Assert.Equal("wiki only", imported!.Comment);
        await ChangeAsync(alice, HttpMethod.Put, "/policy", new { yaml = "version: 1\ndefault: deny\nrules: []\n" });
        var rolledBack = await ChangeAsync(alice, HttpMethod.Post, "/policy/rollback", new { version = imported.Version });
        Assert.Contains($"a copy of version {imported.Version}", rolledBack.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(imported.Sha256, (await policies.GetCurrentAsync(default))!.Sha256);
    }

    [Fact]
    public async Task AdminApi_AuthorizationServerSettings_AddTakeTrustBackAndList_WithoutSecrets_EachChangeAuditedOnce()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var store = server.App.Services.GetRequiredService<IAuthorizationServerStore>();

        var created = await ChangeAsync(alice, HttpMethod.Post, "/as/clients", new { clientId = "api-as-client", name = "API client" });
        var secret = created.GetProperty("oneTimeSecret").GetString()!;
        server.Secrets.Add(secret);
        var rotated = (await ChangeAsync(alice, HttpMethod.Post, "/as/clients/api-as-client/rotate-secret", null)).GetProperty("oneTimeSecret").GetString()!;
        server.Secrets.Add(rotated);
        Assert.NotEqual(secret, rotated);
        await ChangeAsync(alice, HttpMethod.Post, "/as/clients/api-as-client/disable", null);
        Assert.False((await store.FindClientAsync("api-as-client", default))!.Enabled);

        var listed = await alice.Http.GetStringAsync(Api + "/as/clients");
        Assert.Contains("\"api-as-client\"", listed, StringComparison.Ordinal);
        Assert.DoesNotContain(rotated, listed, StringComparison.Ordinal);
        Assert.DoesNotContain("hash", listed, StringComparison.OrdinalIgnoreCase);

        await ChangeAsync(alice, HttpMethod.Post, "/as/issuers/disable", new { issuer = server.Issuer });
        Assert.False((await store.FindTrustedIssuerAsync(server.Issuer, default))!.Enabled);
        Assert.Contains("\"enabled\":false", await alice.Http.GetStringAsync(Api + "/as/issuers"), StringComparison.Ordinal);
        await ChangeAsync(alice, HttpMethod.Post, "/as/issuers/enable", new { issuer = server.Issuer });
        Assert.True((await store.FindTrustedIssuerAsync(server.Issuer, default))!.Enabled);

        await ChangeAsync(alice, HttpMethod.Post, "/as/resources", new { id = "api-res", name = "API resource", resource = "https://mcp.api.example/mcp", scopes = new[] { "api.read" } });
        await ChangeAsync(alice, HttpMethod.Delete, "/as/resources/api-res", null);
        Assert.DoesNotContain(await store.ListResourcesAsync(default), r => r.Id == "api-res");

        // Refusals change nothing and are not audited.
        var auditBefore = (await server.AuditAsync(AuditEventTypes.AdminChange)).Count;
        using (var refused = await SendAsync(alice, HttpMethod.Post, "/as/issuers", new { issuer = "http://idp.plain.example", tenantId = "t-none", metadataUrl = "https://idp.plain.example/.well-known/openid-configuration" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("not an absolute https URL", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var unknown = await SendAsync(alice, HttpMethod.Post, "/as/clients/nobody/disable", null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        }

        Assert.Equal(auditBefore, (await server.AuditAsync(AuditEventTypes.AdminChange)).Count);
        var audit = (await server.AuditAsync(AuditEventTypes.AdminChange)).Where(e => e.Subject == "usr-alice").ToList();
        foreach (var (action, target) in new[] { ("as_client_create", "api-as-client"), ("as_client_rotate_secret", "api-as-client"), ("as_client_disable", "api-as-client"), ("as_issuer_disable", server.Issuer), ("as_issuer_enable", server.Issuer), ("as_resource_create", "api-res"), ("as_resource_remove", "api-res") })
        {
            Assert.Single(audit, e => e.Action == action && e.Resource == target);
        }

        Assert.DoesNotContain(audit, e => (e.Reason ?? string.Empty).Contains(rotated, StringComparison.Ordinal));
    }

    [Fact]
    public async Task IdpChanges_WhoseAuditRecordCannotBeWritten_DoNotHappen_NoSecretIsHandedOut_AndTheOldSecretStillWorks()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var services = server.App.Services;
        var operations = services.GetRequiredService<Ema.Admin.AdminOperations>();
        var directory = services.GetRequiredService<IDirectoryStore>();
        var applications = services.GetRequiredService<IApplicationStore>();
        var grants = services.GetRequiredService<IGrantStore>();
        var mfa = services.GetRequiredService<Ema.Server.Security.IMfaStore>();
        var keys = services.GetRequiredService<Ema.Server.Security.SigningKeyManager>();
        var by = new Ema.Admin.Console.ConsoleUser("usr-alice", "alice", "Alice Adams", ["admin"], server.Clock.GetUtcNow(), ["pwd", "mfa"], null);

        // What the changes below would change: a client and its secret, a user with an authenticator, a failed sign-in
        // and a live session, a group.
        var created = await ChangeAsync(alice, HttpMethod.Post, "/clients", new { clientId = "rec-client", name = "Recorded", tokenExchange = true });
        var secret = created.GetProperty("oneTimeSecret").GetString()!;
        server.Secrets.Add(secret);
        await server.CreateUserAsync("rec-user");
        server.Secrets.Add((await operations.EnrolMfaAsync(by, "rec-user", default)).OneTimeSecret!);
        Assert.NotNull(await directory.BeginSignInAttemptAsync("usr-rec-user", server.Clock.GetUtcNow(), _ => null, default));
        var session = new Ema.Server.Model.IdpSession { Id = "ses-rec", HandleHash = "rec-handle", UserId = "usr-rec-user", AuthTime = server.Clock.GetUtcNow(), Amr = ["pwd"], ExpiresAt = server.Clock.GetUtcNow().AddHours(1) };
        await grants.SaveSessionAsync(session, default);
        Assert.True((await operations.CreateGroupAsync(by, "grp-rec", "Recorded", null, default)).Succeeded);
        var currentKey = keys.GetLoaded(Ema.Server.IdentityProvider.IdentityProviderTokens.KeyPurpose).Current.KeyId;
        var recordsBefore = (await server.AuditAsync(AuditEventTypes.AdminChange)).Count;

        await SqlAsync("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_blocks BEGIN SELECT RAISE(ABORT, 'audit refused'); END;");
        try
        {
            // Over the API: a server error, and no new secret in it.
            using (var rotate = await SendAsync(alice, HttpMethod.Post, "/clients/rec-client/rotate-secret", null))
            {
                Assert.Equal(HttpStatusCode.InternalServerError, rotate.StatusCode);
                Assert.DoesNotContain("oneTimeSecret", await rotate.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            Func<Task<Ema.Admin.AdminResult>>[] changes =
            [
                () => operations.CreateUserAsync(by, "rec-never", "Never", null, null, default),
                () => operations.SetUserStatusAsync(by, "rec-user", Ema.Server.Model.UserStatus.Disabled, default),
                () => operations.UnlockUserAsync(by, "rec-user", default),
                () => operations.ResetMfaAsync(by, "rec-user", default),
                () => operations.EnrolMfaAsync(by, "rec-user", default),
                () => operations.AddRoleAsync(by, "rec-user", "auditor", default),
                () => operations.CreateGroupAsync(by, "grp-rec-never", "Never", null, default),
                () => operations.AddGroupMemberAsync(by, "grp-rec", "rec-user", default),
                () => operations.RotateClientSecretAsync(by, "rec-client", default),
                () => operations.SetClientEnabledAsync(by, "rec-client", enabled: false, default),
                () => operations.MapClientIdAsync(by, "rec-client", "res-wiki", "rec-at-wiki", default),
                () => operations.CreateEntitlementAsync(by, "grp-rec", null, "rec-client", "res-wiki", ["wiki.read"], default),
                () => operations.CreateResourceAsync(by, "res-rec-never", "Never", "https://never.example/mcp", "https://never.example", "never.read", default),
                () => operations.RevokeSessionAsync(by, "ses-rec", default),
                () => operations.RotateSigningKeysAsync(by, default),
                () => operations.DisconnectClientAsync(by, "rec-client", default),
            ];
            for (var i = 0; i < changes.Length; i++)
            {
                var refused = await Record.ExceptionAsync(changes[i]);
                Assert.True(refused is AuditUnavailableException, $"change {i}: {refused?.GetType().Name ?? "no exception"}");
            }
        }
        finally
        {
            await SqlAsync("DROP TRIGGER refuse_audit;");
        }

        // Nothing of it is in force, and nothing was recorded.
        Assert.Null(await directory.FindUserByUsernameAsync("rec-never", default));
        Assert.Equal(Ema.Server.Model.UserStatus.Active, (await directory.FindUserAsync("usr-rec-user", default))!.Status);
        Assert.Equal(1, (await directory.GetCredentialsAsync("usr-rec-user", default))!.FailedAttempts);
        Assert.NotNull(await mfa.FindTotpAsync("usr-rec-user", default));
        Assert.Empty(await directory.GetRolesAsync("usr-rec-user", default));
        Assert.DoesNotContain(await directory.ListGroupsAsync(default), g => g.Id == "grp-rec-never");
        Assert.Empty(await directory.GetGroupIdsAsync("usr-rec-user", default));
        var client = (await applications.FindClientAsync("rec-client", default))!;
        Assert.True(Ema.Server.Security.SecretHasher.Verify(secret, client.SecretHash!));
        Assert.True(client.Enabled);
        Assert.Null(await applications.FindClientIdAtResourceAsync("rec-client", "res-wiki", default));
        Assert.Empty(await services.GetRequiredService<IEntitlementStore>().ListForClientAsync("rec-client", default));
        Assert.Null(await applications.FindResourceAsync("res-rec-never", default));
        Assert.False((await grants.FindSessionAsync("ses-rec", default))!.Revoked);
        Assert.Equal(currentKey, keys.GetLoaded(Ema.Server.IdentityProvider.IdentityProviderTokens.KeyPurpose).Current.KeyId);
        var stored = await services.GetRequiredService<ISigningKeyStore>().LoadAsync(Ema.Server.IdentityProvider.IdentityProviderTokens.KeyPurpose, default);
        Assert.Equal(currentKey, stored.Single(k => k.Status == "Current").KeyId);
        Assert.Null(await grants.FindDisconnectionAsync("usr-alice", "rec-client", default));
        Assert.Equal(recordsBefore, (await server.AuditAsync(AuditEventTypes.AdminChange)).Count);

        // And with the audit back, the same changes happen, each with exactly one record.
        Assert.True((await operations.RotateSigningKeysAsync(by, default)).Succeeded);
        Assert.NotEqual(currentKey, keys.GetLoaded(Ema.Server.IdentityProvider.IdentityProviderTokens.KeyPurpose).Current.KeyId);
        Assert.True((await operations.UnlockUserAsync(by, "rec-user", default)).Succeeded);
        Assert.False((await operations.UnlockUserAsync(by, "rec-user", default)).Succeeded); // nothing left to clear: no record
        Assert.True((await operations.ResetMfaAsync(by, "rec-user", default)).Succeeded);
        Assert.True((await grants.FindSessionAsync("ses-rec", default))!.Revoked);
        var records = await server.AuditAsync(AuditEventTypes.AdminChange); // newest first
        Assert.Equal(recordsBefore + 3, records.Count);
        Assert.Equal(["mfa_reset", "user_unlock", "signing_key_rotate"], records.Take(3).Select(r => r.Action));
    }

    private async Task SqlAsync(string sql)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(server.DataDirectory, "ema.db")};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    [Theory]
    [InlineData("\u202Eprocca")] // a right-to-left override: shows as "accorp"
    [InlineData("Finance\u200B")] // a zero-width look-alike of "Finance"
    public async Task AdminApi_NamesWithFormatCharacters_AreRefused_SoNoAdminIsShownALookAlike(string name)
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        using var refused = await SendAsync(alice, HttpMethod.Post, "/groups", new { id = "grp-lookalike", name });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.DoesNotContain(await server.App.Services.GetRequiredService<IDirectoryStore>().ListGroupsAsync(default), g => g.Id == "grp-lookalike");
    }

    [Fact]
    public async Task AdminApi_ChangeWithoutARecentMfaSignIn_IsRefusedAsStepUpRequired_AndChangesNothing()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        server.Clock.Advance(TimeSpan.FromMinutes(16)); // past Ema:Admin:ChangeMaxAuthAge (15 minutes)

        using (var response = await SendAsync(alice, HttpMethod.Post, "/groups", new { id = "grp-late", name = "late" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("step_up_required", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(await server.App.Services.GetRequiredService<IDirectoryStore>().ListGroupsAsync(default), g => g.Id == "grp-late");
        using var reads = await alice.Http.GetAsync(Api + "/groups");
        Assert.Equal(HttpStatusCode.OK, reads.StatusCode); // reading needs no step-up
    }

    [Fact]
    public async Task AdminApi_PolicyChecks_RefuseHostileDocuments_AndOversizedBodies_AndTheServerStaysUp()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);

        // A document nested 200,000 levels deep would overflow the YAML loader's stack and end the process.
        using (var deep = await alice.Http.PostAsJsonAsync(Api + "/policy/validate", new { yaml = "version: 1\ndefault: deny\nrules: " + new string('[', 200_000) }))
        {
            Assert.Equal(HttpStatusCode.OK, deep.StatusCode);
            var check = JsonDocument.Parse(await deep.Content.ReadAsStringAsync()).RootElement;
            Assert.False(check.GetProperty("valid").GetBoolean());
            Assert.Contains("nested", check.GetProperty("errors")[0].GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using (var simulated = await alice.Http.PostAsJsonAsync(Api + "/policy/simulate", new { user = "bob", clientId = "ema-agent", resource = "res-tickets", yaml = "version: 1\ndefault: deny\nrules:\n  - &r { id: x, effect: allow }\n  - *r\n" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, simulated.StatusCode);
            Assert.Contains("anchors", await simulated.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Expect: 100-continue, so the refusal arrives before the body is sent (the server closes the connection after it).
        using (var tooLarge = new HttpRequestMessage(HttpMethod.Post, Api + "/policy/validate") { Content = new StringContent("{\"yaml\":\"" + new string('x', 7 * 1024 * 1024) + "\"}", Encoding.UTF8, "application/json") })
        {
            tooLarge.Headers.ExpectContinue = true;
            using var huge = await alice.Http.SendAsync(tooLarge);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        }

        using var stillUp = await alice.Http.GetAsync(Api + "/groups");
        Assert.Equal(HttpStatusCode.OK, stillUp.StatusCode);
    }

    [Fact]
    public async Task AdminApi_CrossOriginChange_IsRefused_AndChangesNothing()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var rotationsBefore = (await server.AuditAsync(AuditEventTypes.AdminChange)).Count(e => e.Action == "signing_key_rotate");
        foreach (var (name, value) in new[] { ("Origin", "https://attacker.example"), ("Origin", "null"), ("Sec-Fetch-Site", "cross-site") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Api + "/signing-keys/rotate");
            request.Headers.Add(name, value);
            using var response = await alice.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }

        Assert.Equal(rotationsBefore, (await server.AuditAsync(AuditEventTypes.AdminChange)).Count(e => e.Action == "signing_key_rotate"));

        // Signing out (ending one's own session) needs no step-up, but another site must not be able to do it either.
        var revocationsBefore = (await server.AuditAsync(AuditEventTypes.AdminChange)).Count(e => e.Action == "session_revoke");
        using (var signOut = new HttpRequestMessage(HttpMethod.Post, Api + "/signout"))
        {
            signOut.Headers.Add("Origin", "https://attacker.example");
            using var refused = await alice.Http.SendAsync(signOut);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        Assert.Equal(revocationsBefore, (await server.AuditAsync(AuditEventTypes.AdminChange)).Count(e => e.Action == "session_revoke"));
        using (var stillSignedIn = await alice.Http.GetAsync(Api + "/groups"))
        {
            Assert.Equal(HttpStatusCode.OK, stillSignedIn.StatusCode);
        }

        using var sameSite = new HttpRequestMessage(HttpMethod.Post, Api + "/signing-keys/rotate");
        sameSite.Headers.Add("Origin", server.BaseUrl);
        using var accepted = await alice.Http.SendAsync(sameSite);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal(rotationsBefore + 1, (await server.AuditAsync(AuditEventTypes.AdminChange)).Count(e => e.Action == "signing_key_rotate"));
    }

    [Fact]
    public async Task AdminApi_Changes_NeedAnAdmin_AreRefusedWithAReasonOnBadInput_AndArePublishedInTheOpenApiDocument()
    {
        using var anonymous = ConsoleSession.Anonymous(server, server.Clock);
        using (var response = await anonymous.Http.PostAsJsonAsync(Api + "/groups", new { id = "grp-anon", name = "anon" }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        using (var refused = await SendAsync(alice, HttpMethod.Post, "/clients", new { clientId = "bad id!", name = "x" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("needs an id", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(await server.AuditAsync(AuditEventTypes.AdminChange), e => e.Action == "client_create" && e.Resource == "bad id!");

        var created = await ChangeAsync(alice, HttpMethod.Post, "/clients", new { clientId = "api-agent", name = "API agent", authenticationMethod = "client_secret_basic", tokenExchange = true });
        var secret = created.GetProperty("oneTimeSecret").GetString()!;
        server.Secrets.Add(secret);
        Assert.DoesNotContain(secret, await alice.Http.GetStringAsync(Api + "/clients"), StringComparison.Ordinal);

        using var openApi = JsonDocument.Parse(await anonymous.Http.GetStringAsync(server.BaseUrl + "/admin/api/openapi/v1.json"));
        var paths = openApi.RootElement.GetProperty("paths");
        Assert.True(paths.GetProperty("/admin/api/v1/groups").TryGetProperty("post", out _));
        Assert.True(paths.GetProperty("/admin/api/v1/policy").TryGetProperty("put", out _));
        Assert.True(paths.GetProperty("/admin/api/v1/sessions/{sessionId}").TryGetProperty("delete", out _));
    }

    [Fact]
    public async Task AdminApi_Entitlements_AreCheckedAgainstTheResourcesScopes_AndAudited()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        using (var refused = await SendAsync(alice, HttpMethod.Post, "/entitlements", new { groupId = "grp-engineering", clientId = "ema-agent", resourceId = "res-wiki", scopes = new[] { "wiki.nuke" } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("does not define: wiki.nuke", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var wikiScope = (await server.App.Services.GetRequiredService<IApplicationStore>().FindResourceAsync("res-wiki", default))!.Scopes[0].Name;
        var created = await ChangeAsync(alice, HttpMethod.Post, "/entitlements", new { userId = "usr-bob", clientId = "ema-agent", resourceId = "res-wiki", scopes = new[] { wikiScope } });
        var id = created.GetProperty("message").GetString()!.Split(' ')[^1].TrimEnd('.');
        Assert.Contains(id, await alice.Http.GetStringAsync(Api + "/entitlements"), StringComparison.Ordinal);
        Assert.Single(await server.AuditAsync(AuditEventTypes.AdminChange), e => e.Action == "entitlement_create" && e.Subject == "usr-alice" && e.Resource == "res-wiki");
    }

    [Fact]
    public async Task AdminApiBearer_TakesTokensIssuedToTheAdminCliOnly()
    {
        // alice is an admin, but a token her MCP client obtained must not administer the IdP.
        var agent = await server.SignInAsync("alice");
        using var request = new HttpRequestMessage(HttpMethod.Get, Api + "/users");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", agent.Tokens.AccessToken);
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminApiBearer_NeedsAnMfaSignIn_AndARevokedSessionEndsTheToken()
    {
        var cli = await server.SignInAsync("alice", "openid profile", clientId: Ema.Admin.Console.ConsoleNames.CliClientId); // password only
        using (var passwordOnly = await BearerGetAsync(cli.Tokens.AccessToken, "/users"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, passwordOnly.StatusCode);
        }

        var sessionId = JsonDocument.Parse(Convert.FromBase64String(Pad(cli.Tokens.AccessToken.Split('.')[1]))).RootElement.GetProperty("sid").GetString()!;
        await server.App.Services.GetRequiredService<IGrantStore>().RevokeSessionAsync(sessionId, default);
        using var revoked = await BearerGetAsync(cli.Tokens.AccessToken, "/users");
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
    }

    [Fact]
    public async Task AdminApi_CookieAndBearerTogether_AreNeverMergedIntoOneUser()
    {
        // alice's console cookie has the admin role and a fresh second factor; bob's CLI token has neither. Merged, they
        // would pass both checks; the API takes the bearer alone when one is sent.
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var bob = await server.SignInAsync("bob", "openid profile", clientId: Ema.Admin.Console.ConsoleNames.CliClientId);
        using var request = new HttpRequestMessage(HttpMethod.Post, Api + "/users/bob/roles") { Content = JsonContent.Create(new { role = "admin" }) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bob.Tokens.AccessToken);
        using var response = await alice.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain("admin", await server.App.Services.GetRequiredService<IDirectoryStore>().GetRolesAsync("usr-bob", default));
        Assert.DoesNotContain(await server.AuditAsync(AuditEventTypes.AdminChange), e => e.Action == "role_add" && e.Resource == "usr-bob");

        // The cookie alone still works: the refusal came from taking one identity, not from breaking the console's.
        using var own = await alice.Http.GetAsync(Api + "/groups");
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task AdminApiBearer_DisabledCliClient_EndsItsTokensAtOnce()
    {
        var cli = await server.SignInAsync("alice", "openid profile", clientId: Ema.Admin.Console.ConsoleNames.CliClientId);
        using (var before = await BearerGetAsync(cli.Tokens.AccessToken, "/users"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, before.StatusCode); // authenticated (a password-only sign-in: no MFA)
        }

        var applications = server.App.Services.GetRequiredService<IApplicationStore>();
        await applications.SetClientEnabledAsync(Ema.Admin.Console.ConsoleNames.CliClientId, false, default);
        try
        {
            using var after = await BearerGetAsync(cli.Tokens.AccessToken, "/users");
            Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        }
        finally
        {
            await applications.SetClientEnabledAsync(Ema.Admin.Console.ConsoleNames.CliClientId, true, default);
        }
    }

    [Fact]
    public async Task AdminApiBearer_TokenOfASilentSignIn_IsRefused_OnlyAFreshSignInCounts()
    {
        // Any local program can name the public CLI client; on a standing IdP session /authorize answers without asking
        // anything. Such a token's sign-in is older than its issue time, and the API refuses it.
        var jar = new System.Net.CookieContainer();
        var fresh = await server.SignInAsync("alice", "openid profile", jar, Ema.Admin.Console.ConsoleNames.CliClientId);
        using (var accepted = await BearerGetAsync(fresh.Tokens.AccessToken, "/users"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, accepted.StatusCode); // authenticated; no MFA in this sign-in
        }

        server.Clock.Advance(TimeSpan.FromMinutes(6));
        var silent = await server.SignInAsync("alice", "openid profile", jar, Ema.Admin.Console.ConsoleNames.CliClientId);
        using var refused = await BearerGetAsync(silent.Tokens.AccessToken, "/users");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("fresh sign-in", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CliClientRegistration_RefusesToStartWhenASameNamedClientHasOtherSettings()
    {
        var folder = Directory.CreateTempSubdirectory("ema-cli-registration-").FullName;
        try
        {
            var services = new ServiceCollection().AddLogging().AddEmaSqliteStorage(Path.Combine(folder, "ema.db")).BuildServiceProvider();
            await using (services)
            {
                foreach (var task in services.GetServices<Ema.Server.IStartupTask>().OrderBy(t => t.Order))
                {
                    await task.RunAsync(default);
                }

                var applications = services.GetRequiredService<IApplicationStore>();
                await applications.CreateClientAsync(new Ema.Server.Model.ClientApplication { ClientId = Ema.Admin.Console.ConsoleNames.CliClientId, Name = "look-alike", AuthenticationMethod = "client_secret_basic", SecretHash = Ema.Server.Security.SecretHasher.Hash("x"), RedirectUris = ["https://attacker.example/cb"], GrantTypes = ["authorization_code", "refresh_token"] }, default);
                var registration = new Ema.Admin.Console.ConsoleClientRegistration(applications, Microsoft.Extensions.Options.Options.Create(new Ema.Server.Options.IdentityProviderOptions { Issuer = "https://idp.example/idp" }));
                var error = await Assert.ThrowsAsync<InvalidOperationException>(() => registration.RunAsync(default));
                Assert.Contains("would administer this IdP", error.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private async Task<HttpResponseMessage> BearerGetAsync(string token, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Api + path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return await server.Http.SendAsync(request);
    }

    private static string Pad(string base64Url)
    {
        var text = base64Url.Replace('-', '+').Replace('_', '/');
        return text + new string('=', (4 - (text.Length % 4)) % 4);
    }

    private async Task<HttpResponseMessage> SendAsync(ConsoleSession session, HttpMethod method, string path, object? body)
    {
        using var request = new HttpRequestMessage(method, Api + path) { Content = body is null ? null : JsonContent.Create(body) };
        return await session.Http.SendAsync(request);
    }

    private async Task<JsonElement> ChangeAsync(ConsoleSession session, HttpMethod method, string path, object? body)
    {
        using var response = await SendAsync(session, method, path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
