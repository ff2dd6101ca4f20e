using Ema.Admin.Console;
using Ema.Server.Model;
using Ema.Server.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ema.Admin.Api;

/// <summary>New user.</summary>
public sealed record CreateUserRequest(string Username, string DisplayName, string? Email, string? Department);

/// <summary>New group.</summary>
public sealed record CreateGroupRequest(string Id, string Name, string? Description);

/// <summary>A user named by username.</summary>
public sealed record UsernameRequest(string Username);

/// <summary>A directory role.</summary>
public sealed record RoleRequest(string Role);

/// <summary>New client application.</summary>
/// <summary>A private_key_jwt client's new public keys (a JWK Set document).</summary>
public sealed record ClientKeysRequest(string Jwks);

public sealed record CreateClientRequest(string ClientId, string Name, IReadOnlyList<string>? RedirectUris, string? AuthenticationMethod, bool TokenExchange, string? Jwks = null, bool RequireDpop = false);

/// <summary>New resource application; <see cref="Scopes"/> one per line: <c>name</c> or <c>name:low|medium|high</c>.</summary>
public sealed record CreateResourceRequest(string Id, string DisplayName, string Resource, string AuthorizationServer, string Scopes);

/// <summary>The client's id at a resource's authorization server (the <c>client_id</c> its ID-JAGs carry).</summary>
public sealed record ClientMappingRequest(string ClientIdAtResource);

/// <summary>An entitlement: exactly one of <see cref="GroupId"/> and <see cref="UserId"/>.</summary>
public sealed record CreateEntitlementRequest(string? GroupId, string? UserId, string ClientId, string ResourceId, IReadOnlyList<string>? Scopes);

/// <summary>A whole policy document (YAML) to put in force.</summary>
public sealed record ImportPolicyRequest(string Yaml, string? Comment);

/// <summary>A policy version to put back in force.</summary>
public sealed record RollbackPolicyRequest(long Version);

/// <summary>
/// The outcome of a change. <see cref="OneTimeSecret"/> (a first password, a client secret) is in this response only:
/// it is stored as a hash and never shown again.
/// </summary>
public sealed record AdminChangeView(string Message, string? OneTimeSecret)
{
    /// <summary>For an applied policy: names its rules use that match nothing.</summary>
    public IReadOnlyList<PolicyError>? Warnings { get; init; }
}

/// <summary>A refused change: nothing was changed. <see cref="Errors"/> are a policy document's errors, by line.</summary>
public sealed record AdminChangeProblem(string Title, string Detail, IReadOnlyList<PolicyError>? Errors);

/// <summary>
/// The changes of the admin API: the same <see cref="AdminOperations"/> as the console's forms — input checked first,
/// then the change, then one audit record naming the admin. Each needs what a console change needs: the admin role, a
/// sign-in with a second factor no older than <see cref="AdminConsoleOptions.ChangeMaxAuthAge"/> (else 403
/// <c>step_up_required</c> and nothing changes), and a same-origin request (see <see cref="SameOriginOnly"/>).
/// </summary>
internal static class AdminApiChanges
{
    public static void Map(RouteGroupBuilder api)
    {
        var sameOrigin = api.MapGroup(string.Empty).AddEndpointFilter(RefuseCrossOrigin);

        // Ending one's own sign-in (ema admin logout) needs no recent second factor: it only takes access away.
        sameOrigin.MapPost("/signout", (AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.EndOwnSessionAsync(by, ct))).WithName("SignOut");

        var changes = sameOrigin.MapGroup(string.Empty).AddEndpointFilter(RequireRecentMfa);

        changes.MapPost("/users", (CreateUserRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.CreateUserAsync(by, r.Username, r.DisplayName, r.Email, r.Department, ct))).WithName("CreateUser");
        changes.MapPost("/users/{username}/disable", (string username, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.SetUserStatusAsync(by, username, UserStatus.Disabled, ct))).WithName("DisableUser");
        changes.MapPost("/users/{username}/enable", (string username, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.SetUserStatusAsync(by, username, UserStatus.Active, ct))).WithName("EnableUser");
        changes.MapPost("/users/{username}/unlock", (string username, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.UnlockUserAsync(by, username, ct))).WithName("UnlockUser");
        changes.MapPost("/users/{username}/mfa-reset", (string username, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.ResetMfaAsync(by, username, ct))).WithName("ResetUserMfa");
        changes.MapPost("/users/{username}/roles", (string username, RoleRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.AddRoleAsync(by, username, r.Role, ct))).WithName("AddUserRole");
        changes.MapDelete("/users/{username}/roles/{role}", (string username, string role, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.RemoveRoleAsync(by, username, role, ct))).WithName("RemoveUserRole");

        changes.MapPost("/users/{username}/mfa-enroll", (string username, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.EnrolMfaAsync(by, username, ct))).WithName("EnrolUserMfa");

        changes.MapPost("/groups", (CreateGroupRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.CreateGroupAsync(by, r.Id, r.Name, r.Description, ct))).WithName("CreateGroup");
        changes.MapPost("/groups/{groupId}/members", (string groupId, UsernameRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.AddGroupMemberAsync(by, groupId, r.Username, ct))).WithName("AddGroupMember");
        changes.MapDelete("/groups/{groupId}/members/{username}", (string groupId, string username, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.RemoveGroupMemberAsync(by, groupId, username, ct))).WithName("RemoveGroupMember");

        changes.MapPost("/clients", (CreateClientRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.CreateClientAsync(by, r.ClientId, r.Name, r.RedirectUris ?? [], r.AuthenticationMethod ?? Ema.Protocol.ClientAuthenticationMethods.ClientSecretBasic, r.TokenExchange, r.Jwks, r.RequireDpop, ct))).WithName("CreateClient");
        changes.MapPost("/clients/{clientId}/rotate-secret", (string clientId, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.RotateClientSecretAsync(by, clientId, ct))).WithName("RotateClientSecret");
        changes.MapPost("/clients/{clientId}/require-dpop", (string clientId, RequireDpopRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.SetClientRequireDpopAsync(by, clientId, r.RequireDpop, ct))).WithName("SetClientRequireDpop");
        changes.MapPost("/clients/{clientId}/keys", (string clientId, ClientKeysRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.ReplaceClientKeysAsync(by, clientId, r.Jwks, ct))).WithName("ReplaceClientKeys");
        changes.MapPost("/clients/{clientId}/disable", (string clientId, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.SetClientEnabledAsync(by, clientId, enabled: false, ct))).WithName("DisableClient");
        changes.MapPost("/clients/{clientId}/enable", (string clientId, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.SetClientEnabledAsync(by, clientId, enabled: true, ct))).WithName("EnableClient");

        changes.MapPut("/clients/{clientId}/mappings/{resourceId}", (string clientId, string resourceId, ClientMappingRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.MapClientIdAsync(by, clientId, resourceId, r.ClientIdAtResource, ct))).WithName("MapClientId");
        changes.MapPost("/entitlements", (CreateEntitlementRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.CreateEntitlementAsync(by, r.GroupId, r.UserId, r.ClientId, r.ResourceId, r.Scopes ?? [], ct))).WithName("CreateEntitlement");

        if (AuthorizationServerApi.IsHosted(((IEndpointRouteBuilder)api).ServiceProvider))
        {
            AuthorizationServerApi.MapChanges(changes);
        }

        changes.MapPost("/resources", (CreateResourceRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.CreateResourceAsync(by, r.Id, r.DisplayName, r.Resource, r.AuthorizationServer, r.Scopes, ct))).WithName("CreateResource");

        changes.MapPut("/policy", (ImportPolicyRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.ImportPolicyAsync(by, r.Yaml, r.Comment, ct))).WithName("ImportPolicy");
        changes.MapPost("/policy/rollback", (RollbackPolicyRequest r, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.RollbackPolicyAsync(by, r.Version, ct))).WithName("RollbackPolicy");

        changes.MapDelete("/sessions/{sessionId}", (string sessionId, AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.RevokeSessionAsync(by, sessionId, ct))).WithName("RevokeSession");
        changes.MapPost("/signing-keys/rotate", (AdminOperations o, HttpContext c, CancellationToken ct) =>
            RunAsync(c, by => o.RotateSigningKeysAsync(by, ct))).WithName("RotateSigningKeys");
    }

    internal static async Task<Results<Ok<AdminChangeView>, BadRequest<AdminChangeProblem>>> RunAsync(HttpContext context, Func<ConsoleUser, Task<AdminResult>> change)
    {
        // The filter ran first: the caller is a signed-in admin.
        var result = await change(ConsoleUser.From(context.User)!).ConfigureAwait(false);
        return result.Succeeded
            ? TypedResults.Ok(new AdminChangeView(result.Message, result.OneTimeSecret) { Warnings = result.PolicyWarnings.Count > 0 ? result.PolicyWarnings : null })
            : TypedResults.BadRequest(new AdminChangeProblem("Refused", result.Message, result.PolicyErrors));
    }

    private static ValueTask<object?> RefuseCrossOrigin(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        SameOriginOnly(context.HttpContext.Request)
            ? next(context)
            : ValueTask.FromResult<object?>(TypedResults.Json(new AdminChangeProblem("Cross-origin request", "Changes are accepted from this site only.", null), statusCode: StatusCodes.Status403Forbidden));

    private static ValueTask<object?> RequireRecentMfa(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;

        // The admin API policy already required the admin role and a sign-in with a second factor; a change also needs
        // that sign-in to be recent (the console's step-up rule). The caller signs in again (max_age=0) and retries.
        var user = ConsoleUser.From(http.User);
        var maxAge = http.RequestServices.GetRequiredService<IOptions<AdminConsoleOptions>>().Value.ChangeMaxAuthAge;
        if (user is null || !user.MayChange(http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow(), maxAge))
        {
            var detail = $"Changes need a sign-in with your second factor in the last {maxAge.TotalMinutes:0} minutes: sign in again at {ConsoleNames.LoginPath}?stepup=1 and retry.";
            return ValueTask.FromResult<object?>(TypedResults.Json(new AdminChangeProblem("step_up_required", detail, null), statusCode: StatusCodes.Status403Forbidden));
        }

        return next(context);
    }

    /// <summary>
    /// Cross-site request forgery: the console cookie is <c>SameSite=Lax</c>, so another site's form cannot send it with a
    /// POST or DELETE; and a browser names the page's origin on every such request (Fetch standard), which must be this
    /// site's. Requests without an <c>Origin</c> (scripts, <c>curl</c>) carry no ambient browser context to forge.
    /// </summary>
    private static bool SameOriginOnly(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (string.IsNullOrEmpty(origin))
        {
            return !string.Equals(request.Headers["Sec-Fetch-Site"].ToString(), "cross-site", StringComparison.OrdinalIgnoreCase);
        }

        return Uri.TryCreate(origin, UriKind.Absolute, out var parsed)
            && string.Equals(parsed.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(parsed.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }
}
