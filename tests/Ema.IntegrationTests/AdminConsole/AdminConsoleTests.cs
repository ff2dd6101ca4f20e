using System.Net;
using System.Text.Json;
using Ema.Admin.Console;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Ema.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.AdminConsole;

/// <summary>A host of its own for the console tests (they enrol authenticators and change the directory), with a test clock.</summary>
public sealed class ConsoleServerFixture : EmaServerFixture
{
    public ConsoleServerFixture()
        : this(new FakeTimeProvider(TimeProvider.System.GetUtcNow()))
    {
    }

    private ConsoleServerFixture(FakeTimeProvider clock)
        : base(clock) => Clock = clock;

    public FakeTimeProvider Clock { get; }

    /// <summary>Creates an active user (optionally an admin) and returns its password.</summary>
    public async Task<string> CreateUserAsync(string username, bool admin = false)
    {
        var password = SecretHasher.NewSecret()[..16];
        Secrets.Add(password);
        var directory = App.Services.GetRequiredService<IDirectoryStore>();
        var id = "usr-" + username;
        Assert.True(await directory.CreateUserAsync(new User(id, username, username.ToUpperInvariant(), null, UserStatus.Active), App.Services.GetRequiredService<PasswordHasher>().Hash(password), default));
        if (admin)
        {
            await directory.AddRoleAsync(id, "admin", default);
        }

        return password;
    }

    /// <summary>The authenticator's count of wrong codes and its lock, as stored.</summary>
    public async Task<(long Failures, DateTimeOffset? LockedUntil)> CodeLockAsync(string userId)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(DataDirectory, "ema.db")}");
        var row = await Dapper.SqlMapper.QuerySingleAsync<(long Failed, long? Locked)>(connection, "SELECT failed_attempts, locked_until FROM user_totp WHERE user_id = @userId", new { userId });
        return (row.Failed, row.Locked is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null);
    }

    public async Task<IReadOnlyList<AuditEvent>> AuditAsync(string? type = null) =>
        await App.Services.GetRequiredService<IAuditReader>().ListAsync(new AuditQuery { Type = type, Limit = 1000 }, default);
}

/// <summary>The admin console over real https: sign-in through the IdP with MFA, admin role, step-up, CSRF, one-time secrets, headers.</summary>
public sealed class AdminConsoleTests(ConsoleServerFixture server) : IClassFixture<ConsoleServerFixture>
{
    [Fact]
    public async Task AdminConsole_SignsInThroughTheIdpWithMfa()
    {
        using var console = ConsoleSession.Anonymous(server, server.Clock);
        await console.GetAsync("/admin");
        Assert.StartsWith("/idp/signin", console.Url.AbsolutePath, StringComparison.Ordinal); // sent to the IdP, not a console password form
        Assert.Contains("name=\"otp\"", console.Html, StringComparison.Ordinal); // the console asks the IdP for MFA
        await console.CompleteSignInAsync("alice");

        Assert.Equal("/admin", console.Url.AbsolutePath);
        Assert.Equal(HttpStatusCode.OK, console.Status);
        Assert.Contains("Alice Adams (alice, MFA)", console.Html, StringComparison.Ordinal);
        Assert.Contains(await server.AuditAsync(AuditEventTypes.SignIn), e => e.Subject == "usr-alice" && e.ClientId == ConsoleNames.ClientId && e.Reason == "password and one-time code");
    }

    [Fact]
    public async Task MfaSelfEnrollment_IsOfferedToUsers_NeverToAdmins()
    {
        var password = await server.CreateUserAsync("dana");
        using var dana = ConsoleSession.Anonymous(server, server.Clock);
        await dana.GetAsync("/admin");
        await dana.CompleteSignInAsync("dana", password); // password, then the set-up page, then a code
        Assert.Equal("/admin/denied", dana.Url.AbsolutePath); // signed in with MFA, but not an admin
        Assert.NotNull(await server.App.Services.GetRequiredService<IMfaStore>().FindTotpAsync("usr-dana", default));
        Assert.Contains(await server.AuditAsync(AuditEventTypes.SignIn), e => e.Subject == "usr-dana" && e.Outcome == AuditOutcomes.Succeeded && e.Reason!.Contains("authenticator enrolled", StringComparison.Ordinal));

        // An admin without an authenticator: whoever knows the password must not get to choose the second factor.
        var adminPassword = await server.CreateUserAsync("ivan", admin: true);
        using var ivan = ConsoleSession.Anonymous(server, server.Clock);
        await ivan.GetAsync("/admin");
        await ivan.PostAsync(ivan.Url.GetLeftPart(UriPartial.Path), new() { ["request"] = ConsoleSession.Input(ivan.Html, "request"), ["__af"] = ConsoleSession.Input(ivan.Html, "__af"), ["username"] = "ivan", ["password"] = adminPassword });
        Assert.Contains("an administrator sets it up for you", ivan.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("totp-secret", ivan.Html, StringComparison.Ordinal);
        Assert.Null(await server.App.Services.GetRequiredService<IMfaStore>().FindTotpAsync("usr-ivan", default));
    }

    [Fact]
    public async Task MfaEnrollmentToken_IsProtectedUnderAPurposeOfItsOwn_NeverReadableAsAStoredSecret()
    {
        var password = await server.CreateUserAsync("flora");
        using var console = ConsoleSession.Anonymous(server, server.Clock);
        await console.GetAsync("/admin");
        await console.PostAsync(console.Url.GetLeftPart(UriPartial.Path), new()
        {
            ["request"] = ConsoleSession.Input(console.Html, "request"),
            ["__af"] = ConsoleSession.Input(console.Html, "__af"),
            ["username"] = "flora",
            ["password"] = password,
        });
        server.Secrets.Add(console.SecretOnPage().Replace(" ", string.Empty, StringComparison.Ordinal));
        var token = Convert.FromBase64String(ConsoleSession.Input(console.Html, "enrollment"));

        // The browser-held token does not open under the purpose of stored secrets (TOTP secrets, signing keys) …
        var keys = server.App.Services.GetRequiredService<IKeyProtector>();
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => keys.Unprotect(token));

        // … and a stored secret's ciphertext does not open as an enrolment token.
        var stored = keys.Protect([1, 2, 3]);
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => keys.ForPurpose(Ema.Server.IdentityProvider.AuthorizationEndpointService.EnrollmentTokenPurpose).Unprotect(stored));
    }

    [Fact]
    public async Task MfaSelfEnrollment_WrongCodeEnrollsNothing_AndTheSetUpIsBoundToItsSignInRequest()
    {
        var password = await server.CreateUserAsync("erin");
        using var console = ConsoleSession.Anonymous(server, server.Clock);
        await console.GetAsync("/admin");
        var signInPage = console.Url.GetLeftPart(UriPartial.Path);
        await console.PostAsync(signInPage, new()
        {
            ["request"] = ConsoleSession.Input(console.Html, "request"),
            ["__af"] = ConsoleSession.Input(console.Html, "__af"),
            ["username"] = "erin",
            ["password"] = password,
        });
        var enrollment = ConsoleSession.Input(console.Html, "enrollment");
        var secret = console.SecretOnPage().Replace(" ", string.Empty, StringComparison.Ordinal);
        server.Secrets.Add(secret);

        // A wrong code: the set-up is shown again; nothing is stored.
        var wrong = console.CodeNow(secret) == "000000" ? "111111" : "000000";
        await console.PostAsync(signInPage, new() { ["request"] = ConsoleSession.Input(console.Html, "request"), ["enrollment"] = enrollment, ["__af"] = ConsoleSession.Input(console.Html, "__af"), ["otp"] = wrong });
        Assert.Contains("That code is not right", console.Html, StringComparison.Ordinal);
        Assert.Null(await server.App.Services.GetRequiredService<IMfaStore>().FindTotpAsync("usr-erin", default));

        // The same set-up presented for another sign-in request is refused.
        using var other = ConsoleSession.Anonymous(server, server.Clock);
        await other.GetAsync("/admin");
        await other.PostAsync(other.Url.GetLeftPart(UriPartial.Path), new() { ["request"] = ConsoleSession.Input(other.Html, "request"), ["enrollment"] = enrollment, ["__af"] = ConsoleSession.Input(other.Html, "__af"), ["otp"] = console.CodeNow(secret) });
        Assert.Contains("set-up expired", other.Html, StringComparison.Ordinal);
        Assert.Null(await server.App.Services.GetRequiredService<IMfaStore>().FindTotpAsync("usr-erin", default));
    }

    [Fact]
    public async Task OneTimeCodeGuessing_LocksOutWithTheSameBackOffAsPasswords()
    {
        var password = await server.CreateUserAsync("kim", admin: true);
        await server.EnrolTotpAsync("kim", "usr-kim");
        var wrong = WrongCode("kim");
        for (var i = 0; i < 3; i++)
        {
            await GuessCodeAsync("kim", password, wrong); // LockoutThreshold is 3 in the test host
        }

        var first = (await server.CodeLockAsync("usr-kim")).LockedUntil!.Value - server.Clock.GetUtcNow();
        server.Clock.Advance(first + TimeSpan.FromSeconds(1));
        await GuessCodeAsync("kim", password, wrong);
        var second = (await server.CodeLockAsync("usr-kim")).LockedUntil!.Value - server.Clock.GetUtcNow();
        Assert.True(second >= first * 2 - TimeSpan.FromSeconds(1), $"{first} then {second}"); // doubles, like passwords
    }

    [Fact]
    public async Task OneTimeCodes_HaveACountOfTheirOwn_APasswordOnlySignInDoesNotResetIt()
    {
        var password = await server.CreateUserAsync("lee", admin: true);
        await server.EnrolTotpAsync("lee", "usr-lee");
        var wrong = WrongCode("lee");
        await GuessCodeAsync("lee", password, wrong);
        await GuessCodeAsync("lee", password, wrong);
        Assert.Equal(2, (await server.CodeLockAsync("usr-lee")).Failures);

        // A sign-in that asks for no code (self-service) succeeds with the password alone and leaves the code count be:
        // otherwise whoever holds the password could guess codes for ever, two at a time.
        using (var self = await ConsoleSession.SignInAsync(server, "lee", "/my/connections", server.Clock, password))
        {
            Assert.Equal("/my/connections", self.Url.AbsolutePath);
        }

        Assert.Equal(2, (await server.CodeLockAsync("usr-lee")).Failures);
        Assert.Equal(0, (await server.App.Services.GetRequiredService<IDirectoryStore>().GetCredentialsAsync("usr-lee", default))!.FailedAttempts);

        var locking = await GuessCodeAsync("lee", password, wrong);
        Assert.Contains("incorrect or was already used", locking, StringComparison.Ordinal);
        Assert.NotNull((await server.CodeLockAsync("usr-lee")).LockedUntil);

        // Locked: even the right code is not checked.
        server.Clock.Advance(TimeSpan.FromSeconds(31));
        var refused = await GuessCodeAsync("lee", password, ConsoleSession.Anonymous(server, server.Clock).CodeNow(server.TotpSecrets["lee"]));
        Assert.Contains("Too many failed attempts", refused, StringComparison.Ordinal);
        Assert.Equal(3, (await server.CodeLockAsync("usr-lee")).Failures);
    }

    [Fact]
    public async Task AdminConsole_Unlock_ClearsALockedOutUsersFailures_AndTheyCanSignInAgain()
    {
        var password = await server.CreateUserAsync("nia");
        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        for (var i = 0; i < 3; i++)
        {
            using var guess = ConsoleSession.Anonymous(server, server.Clock);
            await guess.GetAsync("/my/connections");
            await guess.PostAsync(guess.Url.GetLeftPart(UriPartial.Path), new() { ["request"] = ConsoleSession.Input(guess.Html, "request"), ["__af"] = ConsoleSession.Input(guess.Html, "__af"), ["username"] = "nia", ["password"] = "wrong-" + i });
        }

        Assert.True((await directory.GetCredentialsAsync("usr-nia", default))!.LockedUntil > server.Clock.GetUtcNow()); // LockoutThreshold is 3 in the test host

        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        await alice.GetAsync("/admin/users?search=nia");
        Assert.Contains("locked until", alice.Html, StringComparison.Ordinal);
        await alice.SubmitAsync("/admin/users", "Unlock", new() { ["username"] = "nia" });
        Assert.Contains("nia can sign in again", alice.Html, StringComparison.Ordinal);

        var cleared = await directory.GetCredentialsAsync("usr-nia", default);
        Assert.Equal(0, cleared!.FailedAttempts);
        Assert.Null(cleared.LockedUntil);
        Assert.Single(await server.AuditAsync(AuditEventTypes.AdminChange), e => e.Action == "user_unlock" && e.Resource == "usr-nia" && e.Subject == "usr-alice");
        using (var nia = await ConsoleSession.SignInAsync(server, "nia", "/my/connections", server.Clock, password))
        {
            Assert.Equal("/my/connections", nia.Url.AbsolutePath);
        }

        // Nothing to clear: refused, and no audit record.
        await alice.SubmitAsync("/admin/users", "Unlock", new() { ["username"] = "nia" });
        Assert.Contains("has no failed sign-ins to clear", alice.Html, StringComparison.Ordinal);
        Assert.Single(await server.AuditAsync(AuditEventTypes.AdminChange), e => e.Action == "user_unlock" && e.Resource == "usr-nia");
    }

    private string WrongCode(string username)
    {
        var right = ConsoleSession.Anonymous(server, server.Clock).CodeNow(server.TotpSecrets[username]);
        return right == "000000" ? "111111" : "000000";
    }

    /// <summary>The console's sign-in (MFA asked for) with the right password and <paramref name="code"/>; the page it answers with.</summary>
    private async Task<string> GuessCodeAsync(string username, string password, string code)
    {
        using var guess = ConsoleSession.Anonymous(server, server.Clock);
        await guess.GetAsync("/admin");
        await guess.PostAsync(guess.Url.GetLeftPart(UriPartial.Path), new() { ["request"] = ConsoleSession.Input(guess.Html, "request"), ["__af"] = ConsoleSession.Input(guess.Html, "__af"), ["username"] = username, ["password"] = password, ["otp"] = code });
        return guess.Html;
    }

    [Fact]
    public async Task AdminConsole_RequiresTheAdminRole()
    {
        using var bob = await ConsoleSession.SignInAsync(server, "bob", "/my/connections", server.Clock); // no MFA needed for self-service
        Assert.Equal("/my/connections", bob.Url.AbsolutePath);
        var antiforgery = ConsoleSession.Input(bob.Html, "__af");

        await bob.GetAsync("/admin/users");
        Assert.Equal("/admin/denied", bob.Url.AbsolutePath);
        Assert.Equal(HttpStatusCode.Forbidden, bob.Status);

        await bob.PostAsync("/admin/groups?handler=Create", new() { ["id"] = "grp-bobs", ["name"] = "bobs", ["__af"] = antiforgery });
        Assert.DoesNotContain(await server.App.Services.GetRequiredService<IDirectoryStore>().ListGroupsAsync(default), g => g.Id == "grp-bobs");
    }

    [Fact]
    public async Task AdminConsole_ChangeRequiresRecentMfa_StepsUpAndChangesNothingUntilThen()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        server.Clock.Advance(TimeSpan.FromMinutes(16)); // past Ema:Admin:ChangeMaxAuthAge (15 minutes)

        await alice.SubmitAsync("/admin/groups", "Create", new() { ["id"] = "grp-stepup", ["name"] = "stepup" });
        Assert.StartsWith("/idp/signin", alice.Url.AbsolutePath, StringComparison.Ordinal); // max_age=0: a fresh sign-in with the authenticator
        Assert.DoesNotContain(await server.App.Services.GetRequiredService<IDirectoryStore>().ListGroupsAsync(default), g => g.Id == "grp-stepup");

        await alice.CompleteSignInAsync("alice");
        Assert.Equal("/admin/groups", alice.Url.AbsolutePath);
        await alice.SubmitAsync("/admin/groups", "Create", new() { ["id"] = "grp-stepup", ["name"] = "stepup" });
        Assert.Contains("Created group grp-stepup", alice.Html, StringComparison.Ordinal);
        Assert.Single(await server.AuditAsync(AuditEventTypes.AdminChange), e => e.Action == "group_create" && e.Resource == "grp-stepup" && e.Subject == "usr-alice");
    }

    [Fact]
    public async Task AdminConsole_RemovingARoleOrMembership_TakesEffectAtOnce_AndNoAdminDemotesThemself()
    {
        var password = await server.CreateUserAsync("frank", admin: true);
        await server.EnrolTotpAsync("frank", "usr-frank"); // admins are enrolled by an administrator
        await server.CreateUserAsync("gina");
        var directory = server.App.Services.GetRequiredService<IDirectoryStore>();
        await directory.AddGroupMemberAsync("grp-engineering", "usr-gina", default);
        using var frank = await ConsoleSession.SignInAsync(server, "frank", "/admin", server.Clock, password);
        Assert.Equal("/admin", frank.Url.AbsolutePath);

        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        await alice.SubmitAsync("/admin/users", "RemoveRole", new() { ["username"] = "frank", ["role"] = "admin" });
        Assert.Contains("frank no longer has the role admin", alice.Html, StringComparison.Ordinal);
        await frank.GetAsync("/admin/users");
        Assert.Equal("/admin/denied", frank.Url.AbsolutePath); // roles are re-read on every request

        await alice.SubmitAsync("/admin/users", "RemoveRole", new() { ["username"] = "alice", ["role"] = "admin" });
        Assert.Contains("cannot remove your own administrator role", alice.Html, StringComparison.Ordinal);
        Assert.Contains("admin", await directory.GetRolesAsync("usr-alice", default));

        await alice.GetAsync("/admin/groups");
        Assert.Contains("remove gina from grp-engineering", alice.Html, StringComparison.Ordinal); // listed as a member
        await alice.SubmitAsync("/admin/groups", "RemoveMember", new() { ["groupId"] = "grp-engineering", ["username"] = "gina" });
        Assert.Contains("Removed gina from grp-engineering", alice.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("remove gina from grp-engineering", alice.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("grp-engineering", await directory.GetGroupIdsAsync("usr-gina", default));
        var admin = await server.AuditAsync(AuditEventTypes.AdminChange);
        Assert.Contains(admin, e => e.Action == "role_remove" && e.Resource == "usr-frank");
        Assert.Contains(admin, e => e.Action == "group_member_remove" && e.Resource == "usr-gina");
    }

    [Fact]
    public async Task AdminConsole_MfaReset_RemovesTheAuthenticatorEndsTheSessions_AndTheNextSignInEnrolsAgain()
    {
        var password = await server.CreateUserAsync("hank");
        using var hank = await ConsoleSession.SignInAsync(server, "hank", "/admin", server.Clock, password); // enrols on the way (not an admin)
        Assert.Equal("/admin/denied", hank.Url.AbsolutePath);
        var oldSecret = server.TotpSecrets["hank"];

        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        await alice.SubmitAsync("/admin/users", "ResetMfa", new() { ["username"] = "hank" });
        Assert.Contains("authenticator is removed", alice.Html, StringComparison.Ordinal);
        Assert.Null(await server.App.Services.GetRequiredService<IMfaStore>().FindTotpAsync("usr-hank", default));

        await hank.GetAsync("/admin");
        Assert.StartsWith("/idp/signin", hank.Url.AbsolutePath, StringComparison.Ordinal); // the session that proved the old factor is gone
        server.TotpSecrets.TryRemove("hank", out _);
        await hank.CompleteSignInAsync("hank", password); // enrols a new authenticator
        Assert.Equal("/admin/denied", hank.Url.AbsolutePath);
        Assert.NotEqual(oldSecret, server.TotpSecrets["hank"]);
        Assert.Contains(await server.AuditAsync(AuditEventTypes.AdminChange), e => e.Action == "mfa_reset" && e.Resource == "usr-hank");
    }

    [Fact]
    public async Task AdminApi_RequiresAnMfaSignIn_NotJustTheAdminRole()
    {
        // A password-only console sign-in (through the self-service page, which does not ask for MFA).
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/my/connections", server.Clock);
        Assert.DoesNotContain("MFA", alice.Html, StringComparison.Ordinal);
        using (var response = await alice.Http.GetAsync(server.BaseUrl + "/admin/api/v1/users"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }

        await alice.GetAsync("/admin/users");
        Assert.StartsWith("/idp/signin", alice.Url.AbsolutePath, StringComparison.Ordinal); // the pages step up instead
    }

    [Fact]
    public async Task AdminConsole_SignOut_EndsTheConsoleAndTheIdpSession()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        await alice.PostAsync("/admin/logout", new() { ["__af"] = ConsoleSession.Input(alice.Html, "__af") });
        Assert.Equal("/idp/endsession", alice.Url.AbsolutePath);
        Assert.Equal(HttpStatusCode.OK, alice.Status);
        using (var response = await alice.Http.GetAsync(server.BaseUrl + "/admin/api/v1/users"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        await alice.GetAsync("/my/connections");
        Assert.StartsWith("/idp/signin", alice.Url.AbsolutePath, StringComparison.Ordinal); // no silent sign-in: the IdP session ended too
    }

    [Fact]
    public async Task AdminConsole_SigningKeyRotation_PromotesTheNextKey_AndTheJwksFollows()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var tokens = server.App.Services.GetRequiredService<Ema.Server.IdentityProvider.IdentityProviderTokens>();
        var before = tokens.Ring.Current.KeyId;
        var next = tokens.Ring.Next!.KeyId;

        await alice.SubmitAsync("/admin/keys", "Rotate", new());
        Assert.Contains($"The current signing key is {next}", alice.Html, StringComparison.Ordinal);
        Assert.Equal(next, tokens.Ring.Current.KeyId);
        var jwks = await server.Http.GetStringAsync(server.Issuer + "/jwks");
        Assert.Contains(before, jwks, StringComparison.Ordinal); // retired, still published until its tokens expire
        Assert.Contains(tokens.Ring.Next!.KeyId, jwks, StringComparison.Ordinal); // the new next key is published before use
        Assert.Contains(await server.AuditAsync(AuditEventTypes.AdminChange), e => e.Action == "signing_key_rotate" && e.Resource == next);
    }

    [Fact]
    public async Task AdminConsole_AuthorizationServerPage_ListsTrust_AndTakesItBack_SecretShownOnce()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var store = server.App.Services.GetRequiredService<IAuthorizationServerStore>();
        await alice.GetAsync("/admin/authorization-server");
        Assert.Equal(HttpStatusCode.OK, alice.Status);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(server.Issuer), alice.Html, StringComparison.Ordinal); // the demo's trusted IdP

        await alice.SubmitAsync("/admin/authorization-server", "Client", new() { ["clientId"] = "console-as-client", ["name"] = "Console client" });
        var secret = System.Net.WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(alice.Html, "id=\"one-time-secret\">([^<]*)<").Groups[1].Value);
        Assert.Equal(43, secret.Length);
        server.Secrets.Add(secret);
        await alice.GetAsync("/admin/authorization-server");
        Assert.DoesNotContain(secret, alice.Html, StringComparison.Ordinal); // shown once

        await alice.SubmitAsync("/admin/authorization-server", "ClientEnabled", new() { ["clientId"] = "console-as-client", ["enabled"] = "false" });
        Assert.False((await store.FindClientAsync("console-as-client", default))!.Enabled);
        await alice.SubmitAsync("/admin/authorization-server", "IssuerEnabled", new() { ["issuer"] = server.Issuer, ["enabled"] = "false" });
        Assert.False((await store.FindTrustedIssuerAsync(server.Issuer, default))!.Enabled);
        Assert.Contains("not trusted", alice.Html, StringComparison.Ordinal);
        await alice.SubmitAsync("/admin/authorization-server", "IssuerEnabled", new() { ["issuer"] = server.Issuer, ["enabled"] = "true" });
        Assert.True((await store.FindTrustedIssuerAsync(server.Issuer, default))!.Enabled);

        await alice.SubmitAsync("/admin/authorization-server", "Trust", new() { ["issuer"] = "http://idp.plain.example", ["tenantId"] = "t-none", ["metadataUrl"] = "https://idp.plain.example/.well-known/openid-configuration" });
        Assert.Contains("not an absolute https URL", alice.Html, StringComparison.Ordinal);
        Assert.Null(await store.FindTrustedIssuerAsync("http://idp.plain.example", default));
        var audit = await server.AuditAsync(AuditEventTypes.AdminChange);
        Assert.Single(audit, e => e.Action == "as_client_create" && e.Resource == "console-as-client");
        Assert.Contains(audit, e => e.Action == "as_issuer_disable" && e.Resource == server.Issuer);
    }

    [Fact]
    public async Task AdminConsole_PostWithoutAntiforgeryToken_IsRejectedAndChangesNothing()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        await alice.SubmitAsync("/admin/groups", "Create", new() { ["id"] = "grp-csrf", ["name"] = "csrf" }, withAntiforgery: false);
        Assert.Equal(HttpStatusCode.BadRequest, alice.Status);
        Assert.DoesNotContain(await server.App.Services.GetRequiredService<IDirectoryStore>().ListGroupsAsync(default), g => g.Id == "grp-csrf");
    }

    [Fact]
    public async Task AdminConsole_ClientSecret_IsShownOnceAndStoredOnlyAsAHash()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        await alice.SubmitAsync("/admin/clients", "Create", new() { ["clientId"] = "reports-bot", ["name"] = "Reports bot", ["authenticationMethod"] = ClientAuthenticationMethods.ClientSecretBasic, ["tokenExchange"] = "true", ["redirectUris"] = "https://reports.example/callback" });
        var secret = ConsoleSession.Input(alice.Html.Replace("<code id=\"one-time-secret\">", "<input name=\"secret\" value=\"", StringComparison.Ordinal).Replace("</code></div>", "\"></div>", StringComparison.Ordinal), "secret");
        server.Secrets.Add(secret);
        var applications = server.App.Services.GetRequiredService<IApplicationStore>();
        Assert.Equal(SecretHasher.Hash(secret), (await applications.FindClientAsync("reports-bot", default))!.SecretHash);

        await alice.GetAsync("/admin/clients");
        Assert.Contains("reports-bot", alice.Html, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, alice.Html, StringComparison.Ordinal); // never again

        await alice.SubmitAsync("/admin/clients", "Rotate", new() { ["clientId"] = "reports-bot" });
        Assert.Contains("one-time-secret", alice.Html, StringComparison.Ordinal);
        Assert.NotEqual(SecretHasher.Hash(secret), (await applications.FindClientAsync("reports-bot", default))!.SecretHash); // the old secret stops working
        var admin = await server.AuditAsync(AuditEventTypes.AdminChange);
        Assert.Contains(admin, e => e.Action == "client_create" && e.Resource == "reports-bot");
        Assert.Contains(admin, e => e.Action == "client_secret_rotate" && e.Resource == "reports-bot");
        Assert.DoesNotContain(admin, e => JsonSerializer.Serialize(e).Contains(secret, StringComparison.Ordinal));

        await alice.SubmitAsync("/admin/clients", "Enabled", new() { ["clientId"] = "reports-bot", ["enabled"] = "false" });
        Assert.False((await applications.FindClientAsync("reports-bot", default))!.Enabled);
    }

    [Fact]
    public async Task AdminConsole_PrivateKeyJwtClient_IsRegisteredWithPublicKeysAndNoSecret_APrivateKeyIsRefused()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var publicJwk = JsonSerializer.Serialize(TestKeys.OtherIdpEc().PublicKey.Jwk, Ema.Protocol.EmaJsonContext.Default.JsonWebKeyDocument);
        var applications = server.App.Services.GetRequiredService<IApplicationStore>();

        // A private member pasted by mistake: refused with the reason, nothing stored.
        await alice.SubmitAsync("/admin/clients", "Create", new() { ["clientId"] = "signing-bot", ["name"] = "Signing bot", ["authenticationMethod"] = ClientAuthenticationMethods.PrivateKeyJwt, ["jwks"] = "{\"keys\":[" + publicJwk.TrimEnd('}') + ",\"d\":\"AAAA\"}]}" });
        Assert.Equal(HttpStatusCode.BadRequest, alice.Status);
        Assert.Contains("holds a private key", alice.Html, StringComparison.Ordinal);
        Assert.Null(await applications.FindClientAsync("signing-bot", default));

        await alice.SubmitAsync("/admin/clients", "Create", new() { ["clientId"] = "signing-bot", ["name"] = "Signing bot", ["authenticationMethod"] = ClientAuthenticationMethods.PrivateKeyJwt, ["tokenExchange"] = "true", ["requireDpop"] = "true", ["jwks"] = "{\"keys\":[" + publicJwk + "]}" });
        Assert.DoesNotContain("one-time-secret", alice.Html, StringComparison.Ordinal); // no secret to show
        var client = (await applications.FindClientAsync("signing-bot", default))!;
        Assert.Equal(ClientAuthenticationMethods.PrivateKeyJwt, client.AuthenticationMethod);
        Assert.Null(client.SecretHash);
        Assert.True(client.RequireDpop);
    }

    [Fact]
    public async Task AdminConsole_InvalidInput_IsRefusedWithAReasonAndChangesNothing()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var before = (await server.AuditAsync(AuditEventTypes.AdminChange)).Count;
        await alice.SubmitAsync("/admin/clients", "Create", new() { ["clientId"] = "bad", ["name"] = "Bad", ["authenticationMethod"] = ClientAuthenticationMethods.ClientSecretBasic, ["redirectUris"] = "http://evil.example/cb" });
        Assert.Equal(HttpStatusCode.BadRequest, alice.Status);
        Assert.Contains("not a valid redirect URI", alice.Html, StringComparison.Ordinal);
        await alice.SubmitAsync("/admin/resources", "Create", new() { ["id"] = "res-bad", ["displayName"] = "Bad", ["resource"] = "https://mcp.example/mcp", ["authorizationServer"] = "https://as.example", ["scopes"] = "read:extreme" });
        Assert.Contains("is not a scope line", alice.Html, StringComparison.Ordinal);
        Assert.Null(await server.App.Services.GetRequiredService<IApplicationStore>().FindClientAsync("bad", default));
        Assert.Null(await server.App.Services.GetRequiredService<IApplicationStore>().FindResourceAsync("res-bad", default));
        Assert.Equal(before, (await server.AuditAsync(AuditEventTypes.AdminChange)).Count);
    }

    [Fact]
    public async Task AdminConsole_Pages_CarrySecurityHeadersAndAllowNoScript()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        using var response = await alice.Http.GetAsync(server.BaseUrl + "/admin/users");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var csp = string.Join(' ', response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("script-src", csp, StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Contains("no-store", response.Headers.CacheControl!.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("<script", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        var cookie = alice.Cookies.GetAllCookies().Single(c => c.Name == "__Host-ema-console");
        Assert.True(cookie.Secure && cookie.HttpOnly && cookie.Path == "/");
    }

    [Fact]
    public async Task AdminConsole_RevokedIdpSession_EndsTheConsoleSession()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        var grants = server.App.Services.GetRequiredService<IGrantStore>();
        var session = (await grants.ListSessionsAsync("usr-alice", default)).First(); // the newest: this sign-in
        await grants.RevokeSessionAsync(session.Id, default);

        await alice.GetAsync("/admin/users");
        Assert.StartsWith("/idp/signin", alice.Url.AbsolutePath, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/admin/users", true)]
    [InlineData("/", true)]
    [InlineData("//evil.example/", false)]
    [InlineData("/\t/evil.example", false)]
    [InlineData("/\\evil.example", false)]
    [InlineData("https://evil.example/", false)]
    [InlineData("", false)]
    public void ConsoleSignIn_ReturnUrl_MustBeALocalPath(string url, bool local) => Assert.Equal(local, ConsoleSignIn.IsLocalPath(url));

    [Fact]
    public async Task ConnectionCheck_ReportsWhetherTheServerAdvertisesTheIdJagProfile()
    {
        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        await alice.GetAsync("/admin/resources?check=res-tickets");
        Assert.Contains("reachable through EMA: it advertises the ID-JAG profile", alice.Html, StringComparison.Ordinal);
        Assert.Contains("authorization_grant_profiles_supported includes the ID-JAG profile", alice.Html, StringComparison.Ordinal);

        await alice.GetAsync("/admin/resources?check=res-external"); // mcp.external.example does not resolve here
        Assert.Contains("not ready for EMA", alice.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminApi_RequiresAnAdmin_AndPublishesItsOpenApiDocument()
    {
        using var anonymous = ConsoleSession.Anonymous(server, server.Clock);
        using (var response = await anonymous.Http.GetAsync(server.BaseUrl + "/admin/api/v1/users"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using var alice = await ConsoleSession.SignInAsync(server, "alice", "/admin", server.Clock);
        using var users = JsonDocument.Parse(await alice.Http.GetStringAsync(server.BaseUrl + "/admin/api/v1/users"));
        var aliceView = users.RootElement.EnumerateArray().Single(u => u.GetProperty("username").GetString() == "alice");
        Assert.True(aliceView.GetProperty("mfaEnrolled").GetBoolean());
        Assert.Contains("admin", aliceView.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.DoesNotContain("hash", users.RootElement.GetRawText(), StringComparison.OrdinalIgnoreCase);
        using (var noUsers = await alice.Http.GetAsync(server.BaseUrl + "/admin/api/v1/users?limit=0"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noUsers.StatusCode);
        }

        // Pages by username: after the last one received.
        using (var first = JsonDocument.Parse(await alice.Http.GetStringAsync(server.BaseUrl + "/admin/api/v1/users?limit=1")))
        {
            var firstName = Assert.Single(first.RootElement.EnumerateArray()).GetProperty("username").GetString()!;
            using var second = JsonDocument.Parse(await alice.Http.GetStringAsync(server.BaseUrl + "/admin/api/v1/users?limit=1&after=" + Uri.EscapeDataString(firstName)));
            var secondName = Assert.Single(second.RootElement.EnumerateArray()).GetProperty("username").GetString()!;
            Assert.True(string.CompareOrdinal(secondName, firstName) > 0, $"{secondName} after {firstName}");
            Assert.Equal(users.RootElement.EnumerateArray().Select(u => u.GetProperty("username").GetString()).Order(StringComparer.Ordinal).Take(2), [firstName, secondName]);
        }


        // The chain in order, with sequence numbers and hashes: pages after a sequence number, or the newest records.
        var count = await server.App.Services.GetRequiredService<Ema.Server.Audit.IAuditTrail>().LastSequenceAsync(default);
        Assert.True(count >= 2, $"{count} records"); // at least alice's sign-in and its code
        using (var page = JsonDocument.Parse(await alice.Http.GetStringAsync(server.BaseUrl + $"/admin/api/v1/audit/records?after={count - 2}&limit=1")))
        {
            var record = Assert.Single(page.RootElement.EnumerateArray());
            Assert.Equal(count - 1, record.GetProperty("seq").GetInt64());
            Assert.Matches("^[0-9a-f]{64}$", record.GetProperty("hash").GetString());
        }

        using (var newest = JsonDocument.Parse(await alice.Http.GetStringAsync(server.BaseUrl + "/admin/api/v1/audit/records?newest=1")))
        {
            Assert.True(Assert.Single(newest.RootElement.EnumerateArray()).GetProperty("seq").GetInt64() >= count);
        }

        foreach (var bad in (string[])["after=-1", "newest=0", "limit=0", "after=1&newest=2", "newest=1&limit=2"])
        {
            using var refused = await alice.Http.GetAsync(server.BaseUrl + "/admin/api/v1/audit/records?" + bad);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        using (var verify = JsonDocument.Parse(await alice.Http.GetStringAsync(server.BaseUrl + "/admin/api/v1/audit/verify")))
        {
            Assert.True(verify.RootElement.GetProperty("intact").GetBoolean());
            Assert.True(verify.RootElement.GetProperty("records").GetInt64() >= count);
            Assert.Equal(1, verify.RootElement.GetProperty("sealedFrom").GetInt64()); // every block of this IdP's trail sealed and checked
            Assert.False(verify.RootElement.GetProperty("earlierSealsLost").GetBoolean());
        }

        // Admins with an MFA sign-in only: anonymous 401, a user without the admin role 403.
        using var bob = await ConsoleSession.SignInAsync(server, "bob", "/my/connections", server.Clock);
        foreach (var path in (string[])["/admin/api/v1/audit/records", "/admin/api/v1/audit/verify"])
        {
            using var anonymousTrail = await anonymous.Http.GetAsync(server.BaseUrl + path);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymousTrail.StatusCode);
            using var bobsTrail = await bob.Http.GetAsync(server.BaseUrl + path);
            Assert.Equal(HttpStatusCode.Forbidden, bobsTrail.StatusCode);
        }

        using var openApi = JsonDocument.Parse(await anonymous.Http.GetStringAsync(server.BaseUrl + "/admin/api/openapi/v1.json"));
        var paths = openApi.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/admin/api/v1/audit", paths);
        Assert.Contains("/admin/api/v1/audit/records", paths);
        Assert.Contains("/admin/api/v1/audit/verify", paths);
        Assert.Contains("/admin/api/v1/policy/simulate", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("/idp", StringComparison.Ordinal)); // only the admin API
    }

    [Fact]
    public async Task MyConnections_Disconnect_VoidsACodeIssuedBeforeIt_AndTheNextSignInReconnects()
    {
        var password = await server.CreateUserAsync("gus");
        var agent = (DemoSeed.AgentClientId, server.Demo.ClientSecret);
        var jar = new CookieContainer();
        var (code, redirect, verifier) = await CodeAsync("gus", password, jar);

        // The code was approved, then the user disconnected the client before it was redeemed.
        var operations = server.App.Services.GetRequiredService<Ema.Admin.AdminOperations>();
        Assert.True((await operations.DisconnectClientAsync(new ConsoleUser("usr-gus", "gus", "GUS", [], server.Clock.GetUtcNow(), [], null), DemoSeed.AgentClientId, default)).Succeeded);
        using (var voided = await server.TokenAsync(new() { ["grant_type"] = GrantTypes.AuthorizationCode, ["code"] = code, ["redirect_uri"] = redirect, ["code_verifier"] = verifier }, agent))
        {
            await IdentityProvider.SignInTests.AssertErrorAsync(voided, HttpStatusCode.BadRequest, ErrorIds.ClientDisconnected);
        }

        // The next second's sign-in reconnects in full: its code redeems, and its ID token yields an ID-JAG (the cut-off is
        // the end of the disconnection's second, as an ID token's `iat` counts whole seconds).
        await server.App.Services.GetRequiredService<IDirectoryStore>().AddGroupMemberAsync("grp-engineering", "usr-gus", default);
        server.Clock.Advance(TimeSpan.FromSeconds(1));
        (code, redirect, verifier) = await CodeAsync("gus", password, jar);
        using var reconnected = await server.TokenAsync(new() { ["grant_type"] = GrantTypes.AuthorizationCode, ["code"] = code, ["redirect_uri"] = redirect, ["code_verifier"] = verifier }, agent);
        var body = await reconnected.Content.ReadAsStringAsync();
        Assert.True(reconnected.StatusCode == HttpStatusCode.OK, body);
        using var tokens = JsonDocument.Parse(body);
        var idToken = tokens.RootElement.GetProperty("id_token").GetString()!;
        server.Remember(idToken, tokens.RootElement.GetProperty("access_token").GetString(), tokens.RootElement.TryGetProperty("refresh_token", out var r) ? r.GetString() : null);
        using var exchange = await server.TokenAsync(server.ExchangeForm(idToken, server.BaseUrl + "/mcp/wiki"), agent);
        var exchanged = await exchange.Content.ReadAsStringAsync();
        Assert.True(exchange.StatusCode == HttpStatusCode.OK, exchanged);
        server.Remember(JsonDocument.Parse(exchanged).RootElement.GetProperty("access_token").GetString());
    }

    [Fact]
    public async Task MyConnections_ListsAClientSignedInWithoutARefreshToken_UntilItsIdTokenExpires_AndDisconnectEndsIt()
    {
        var password = await server.CreateUserAsync("hal");
        var agent = (DemoSeed.AgentClientId, server.Demo.ClientSecret);
        var (code, redirect, verifier) = await CodeAsync("hal", password, new CookieContainer(), scope: "openid");
        using (var signedIn = await server.TokenAsync(new() { ["grant_type"] = GrantTypes.AuthorizationCode, ["code"] = code, ["redirect_uri"] = redirect, ["code_verifier"] = verifier }, agent))
        {
            using var tokens = JsonDocument.Parse(await signedIn.Content.ReadAsStringAsync());
            Assert.False(tokens.RootElement.TryGetProperty("refresh_token", out _)); // no standing connection
            server.Remember(tokens.RootElement.GetProperty("id_token").GetString(), tokens.RootElement.GetProperty("access_token").GetString());
        }

        using var console = await ConsoleSession.SignInAsync(server, "hal", "/my/connections", server.Clock, password);
        Assert.Contains("connection-ema-agent", console.Html, StringComparison.Ordinal);
        Assert.Contains("without a standing connection", console.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("connection-ema-admin-console", console.Html, StringComparison.Ordinal); // the console's own sign-in is not a connection

        server.Clock.Advance(TimeSpan.FromSeconds(1));
        await console.SubmitAsync("/my/connections", "Disconnect", new() { ["clientId"] = DemoSeed.AgentClientId });
        Assert.Contains("is disconnected", console.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("connection-ema-agent", console.Html, StringComparison.Ordinal);

        // A sign-in whose IdP session has ended is not listed either: token exchange refuses its ID token.
        server.Clock.Advance(TimeSpan.FromSeconds(2));
        (code, redirect, verifier) = await CodeAsync("hal", password, new CookieContainer(), scope: "openid");
        using (var again = await server.TokenAsync(new() { ["grant_type"] = GrantTypes.AuthorizationCode, ["code"] = code, ["redirect_uri"] = redirect, ["code_verifier"] = verifier }, agent))
        {
            using var tokens = JsonDocument.Parse(await again.Content.ReadAsStringAsync());
            var idToken = tokens.RootElement.GetProperty("id_token").GetString()!;
            server.Remember(idToken, tokens.RootElement.GetProperty("access_token").GetString());
            await console.GetAsync("/my/connections");
            Assert.Contains("connection-ema-agent", console.Html, StringComparison.Ordinal);
            var sid = JsonDocument.Parse(Convert.FromBase64String(Pad(idToken.Split('.')[1]))).RootElement.GetProperty("sid").GetString()!;
            await server.App.Services.GetRequiredService<IGrantStore>().RevokeSessionAsync(sid, default);
        }

        await console.GetAsync("/my/connections");
        Assert.DoesNotContain("connection-ema-agent", console.Html, StringComparison.Ordinal);
    }

    private static string Pad(string base64Url)
    {
        var text = base64Url.Replace('-', '+').Replace('_', '/');
        return text + new string('=', (4 - (text.Length % 4)) % 4);
    }

    // A code for the demo agent through the real sign-in page (the page is skipped while the IdP session in the jar lives).
    private async Task<(string Code, string RedirectUri, string Verifier)> CodeAsync(string username, string password, CookieContainer jar, string scope = "openid offline_access")
    {
        using var browser = TrustedHttp.Client(server.Ca, jar);
        var verifier = EmaServerFixture.Base64Url(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var challenge = EmaServerFixture.Base64Url(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier)));
        var redirect = $"http://127.0.0.1:{40000 + System.Security.Cryptography.RandomNumberGenerator.GetInt32(20000)}/callback";
        var response = await browser.GetAsync($"{server.Issuer}/authorize?response_type=code&client_id={DemoSeed.AgentClientId}&redirect_uri={Uri.EscapeDataString(redirect)}&scope={Uri.EscapeDataString(scope)}&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256");
        var location = response.Headers.Location!.ToString();
        if (location.StartsWith('/'))
        {
            var page = await browser.GetStringAsync(server.BaseUrl + location);
            var posted = await browser.PostAsync(server.BaseUrl + "/idp/signin", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["request"] = EmaServerFixture.HiddenInput(page, "request"),
                ["__af"] = EmaServerFixture.HiddenInput(page, "__af"),
                ["username"] = username,
                ["password"] = password,
            }));
            location = posted.Headers.Location!.ToString();
        }

        return (System.Web.HttpUtility.ParseQueryString(new Uri(location).Query)["code"]!, redirect, verifier);
    }

    [Fact]
    public async Task MyConnections_ShowsServersPerClient_AndDisconnectStopsTheClient()
    {
        var bob = await server.SignInAsync("bob"); // the agent signs bob in (offline_access: a standing connection)
        server.Secrets.Add(bob.Tokens.IdToken!);
        server.Secrets.Add(bob.Tokens.RefreshToken!);
        var agent = (DemoSeed.AgentClientId, server.Demo.ClientSecret);
        using (var exchange = await server.TokenAsync(server.ExchangeForm(bob.Tokens.IdToken!, server.BaseUrl + "/mcp/ledger"), agent))
        {
            Assert.Equal(HttpStatusCode.OK, exchange.StatusCode);
        }

        using var console = await ConsoleSession.SignInAsync(server, "bob", "/my/connections", server.Clock);
        Assert.Contains("connection-ema-agent", console.Html, StringComparison.Ordinal);
        Assert.Contains("Ledger", console.Html, StringComparison.Ordinal);
        Assert.Contains("ledger.write", console.Html, StringComparison.Ordinal);

        server.Clock.Advance(TimeSpan.FromSeconds(2)); // after the ID token's iat
        await console.SubmitAsync("/my/connections", "Disconnect", new() { ["clientId"] = DemoSeed.AgentClientId });
        Assert.Contains("is disconnected", console.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("connection-ema-agent", console.Html, StringComparison.Ordinal);

        using (var exchange = await server.TokenAsync(server.ExchangeForm(bob.Tokens.IdToken!, server.BaseUrl + "/mcp/ledger"), agent))
        {
            await IdentityProvider.SignInTests.AssertErrorAsync(exchange, HttpStatusCode.BadRequest, ErrorIds.SubjectTokenInvalid);
        }

        using (var refresh = await server.TokenAsync(new() { ["grant_type"] = GrantTypes.RefreshToken, ["refresh_token"] = bob.Tokens.RefreshToken! }, agent))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refresh.StatusCode);
        }

        Assert.Contains(await server.AuditAsync(AuditEventTypes.AdminChange), e => e.Action == "client_disconnect" && e.Subject == "usr-bob" && e.ClientId == DemoSeed.AgentClientId);

        // Signing in to the client again (later than the disconnection: iat has whole seconds) reconnects it.
        server.Clock.Advance(TimeSpan.FromSeconds(1));
        var again = await server.SignInAsync("bob");
        server.Secrets.Add(again.Tokens.IdToken!);
        using var renewed = await server.TokenAsync(server.ExchangeForm(again.Tokens.IdToken!, server.BaseUrl + "/mcp/ledger"), agent);
        Assert.Equal(HttpStatusCode.OK, renewed.StatusCode);
    }
}
