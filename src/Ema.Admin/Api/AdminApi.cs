using System.Text.Json.Serialization;
using Ema.Admin.Console;
using Ema.Server.Audit;
using Ema.Server.Policy;
using Ema.Server.Stores;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Ema.Admin.Api;

/// <summary>
/// What-if request of the admin API: against the policy in force, or against <see cref="Yaml"/> — a candidate policy
/// document, checked first and never stored — at <see cref="At"/> (default now).
/// </summary>
public sealed record SimulationRequest(string User, string ClientId, string Resource, IReadOnlyList<string>? Scopes, bool Mfa, int? AuthAgeMinutes, string? RemoteAddress, string? Yaml = null, DateTimeOffset? At = null);

/// <summary>A policy document to check without applying it.</summary>
public sealed record ValidatePolicyRequest(string Yaml);

/// <summary>The outcome of a check: <see cref="Errors"/> by line when it is not valid.</summary>
public sealed record PolicyValidationView(bool Valid, int Rules, IReadOnlyList<PolicyError> Errors)
{
    /// <summary>Names the rules use that match nothing in this IdP (a valid policy may still deny or grant less than it reads).</summary>
    public IReadOnlyList<PolicyError> Warnings { get; init; } = [];
}

/// <summary>A stored policy version with its document.</summary>
public sealed record PolicyDocumentView(long Version, string Sha256, DateTimeOffset CreatedAt, string CreatedBy, string? Comment, string Yaml)
{
    public static PolicyDocumentView From(PolicyVersion v)
    {
        ArgumentNullException.ThrowIfNull(v);
        return new(v.Version, v.Sha256, v.CreatedAt, v.CreatedBy, v.Comment, v.Yaml);
    }
}

/// <summary>A refused what-if: unknown input, or a candidate policy with <see cref="Errors"/> by line.</summary>
public sealed record SimulationProblem(string Title, string Detail, IReadOnlyList<PolicyError>? Errors);

/// <summary>A decision as the admin API returns it.</summary>
public sealed record DecisionView(string DecisionId, bool Allowed, IReadOnlyList<string> GrantedScopes, string? Error, string? ErrorDescription, int? MaxAge, string? AcrValues, IReadOnlyList<string> Explanation)
{
    public static DecisionView From(AccessDecision d)
    {
        ArgumentNullException.ThrowIfNull(d);
        return new(d.DecisionId, d.Allowed, d.GrantedScopes, d.Error?.Code, d.Error?.Description, d.Error?.MaxAge, d.Error?.AcrValues, d.Explanation);
    }
}

/// <summary>An audit record as the admin API returns it (the stored record: never a token, secret or password).</summary>
public sealed record AuditRecordView(string Id, DateTimeOffset Time, string Type, string Outcome, string? Action, string? ErrorId, string? Reason, string? ClientId, string? Subject, string? Resource, string? Scope, string? TokenId, string? ParentTokenId, int Depth = 0)
{
    public static AuditRecordView From(AuditEvent e, int depth = 0)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new(e.Id, e.Time, e.Type, e.Outcome, e.Action, e.ErrorId, e.Reason, e.ClientId, e.Subject, e.Resource, e.Scope, e.TokenId, e.ParentTokenId, depth);
    }
}

/// <summary>
/// One record of the chain as it is exported (JSON Lines for a SIEM, by <c>ema audit export</c> and the admin API's
/// <c>/audit/records</c> alike): the stored record with its sequence number and chain hash.
/// </summary>
public sealed record AuditExportRecord(
    [property: JsonPropertyName("seq")] long Sequence,
    string? Hash,
    string Id,
    DateTimeOffset Time,
    string Type,
    string Outcome,
    string? Action,
    string? ErrorId,
    string? Reason,
    string? ClientId,
    string? Subject,
    string? Resource,
    string? Audience,
    string? Scope,
    string? TokenId,
    string? ParentTokenId,
    string? SessionId)
{
    /// <summary>The most records one <c>/audit/records</c> answer of the admin API holds; a reader pages on with <c>after</c>.</summary>
    public const int MaxPerAnswer = 5000;

    public static AuditExportRecord From(long sequence, string? hash, AuditEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new(sequence, hash, e.Id, e.Time, e.Type, e.Outcome, e.Action, e.ErrorId, e.Reason, e.ClientId, e.Subject, e.Resource, e.Audience, e.Scope, e.TokenId, e.ParentTokenId, e.SessionId);
    }
}

/// <summary>Problem of an admin API request (RFC 9457 shape).</summary>
public sealed record AdminProblem(string Title, string Detail);

/// <summary>
/// The JSON admin API under <c>/admin/api/v1</c> (admins only, console sign-in): the same queries the console pages
/// use, the simulator, the decision trail, and the console's changes (<see cref="AdminApiChanges"/>). Its OpenAPI document is at <c>/admin/api/openapi/v1.json</c>.
/// </summary>
internal static class AdminApi
{
    public const string DocumentName = "v1";

    /// <summary>The most users one <c>/users</c> answer holds.</summary>
    public const int MaxUsersPerAnswer = 1000;

    /// <summary>The largest request body the admin API reads.</summary>
    public const long MaxRequestBytes = 3L * PolicyYaml.MaxLength;

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOpenApi("/admin/api/openapi/{documentName}.json");
        // Bodies are small JSON records; the largest is a policy document (PolicyYaml.MaxLength characters, escaped).
        var api = endpoints.MapGroup("/admin/api/v1").RequireAuthorization(ConsoleNames.AdminApiPolicy).WithTags("admin")
            .WithMetadata(new RequestSizeLimitAttribute(MaxRequestBytes))
            .AddEndpointFilter((context, next) =>
            {
                // Directory, session and audit data: never cached, never sniffed.
                ConsoleSecurityHeaders.Apply(context.HttpContext.Response);
                return next(context);
            });
        // By username, at most MaxUsersPerAnswer at a time: a reader pages on with after=<the last username it got>.
        api.MapGet("/users", ListUsersAsync).WithName("ListUsers");
        api.MapGet("/groups", (AdminQueries q, CancellationToken ct) => q.ListGroupsAsync(ct)).WithName("ListGroups");
        api.MapGet("/clients", (AdminQueries q, CancellationToken ct) => q.ListClientsAsync(ct)).WithName("ListClients");
        api.MapGet("/resources", (AdminQueries q, CancellationToken ct) => q.ListResourcesAsync(ct)).WithName("ListResources");
        api.MapGet("/entitlements", (Ema.Server.Stores.IEntitlementStore e, CancellationToken ct) => e.ListAsync(ct)).WithName("ListEntitlements");
        if (AuthorizationServerApi.IsHosted(endpoints.ServiceProvider))
        {
            AuthorizationServerApi.MapReads(api); // where this host also runs the authorization server
        }

        api.MapGet("/sessions", (AdminQueries q, string? user, CancellationToken ct) => q.ListSessionsAsync(ct, user)).WithName("ListSessions");
        api.MapGet("/signing-keys", (AdminQueries q) => q.ListSigningKeys()).WithName("ListSigningKeys");
        api.MapGet("/policy/versions", (AdminQueries q, CancellationToken ct) => q.ListPolicyVersionsAsync(ct)).WithName("ListPolicyVersions");
        api.MapGet("/audit", async (AdminQueries q, string? user, string? client, string? resource, string? outcome, string? type, DateTimeOffset? since, DateTimeOffset? until, int? limit, CancellationToken ct) =>
            (await q.SearchAuditAsync(user, new AuditQuery { ClientId = Blank(client), Resource = Blank(resource), Outcome = Blank(outcome), Type = Blank(type), Since = since, Until = until, Limit = Math.Clamp(limit ?? 100, 1, 5000) }, ct).ConfigureAwait(false)).Select(e => AuditRecordView.From(e)).ToList()).WithName("SearchAudit");
        api.MapGet("/audit/records", ReadTrailAsync).WithName("ReadAuditTrail");
        api.MapGet("/audit/verify", VerifyTrailAsync).WithName("VerifyAuditTrail");
        api.MapGet("/audit/trail/{id}", async (DecisionTrail trail, string id, CancellationToken ct) =>
            (await trail.FollowAsync(id, ct).ConfigureAwait(false)).Select(r => AuditRecordView.From(r.Event, r.Depth)).ToList()).WithName("FollowDecision");
        api.MapGet("/policy", async (IPolicyStore store, CancellationToken ct) => await store.GetCurrentAsync(ct).ConfigureAwait(false) is { } v
            ? Results.Ok(PolicyDocumentView.From(v))
            : Results.NotFound(new AdminProblem("No policy", "No policy has been imported: entitlements v1 decide."))).WithName("GetPolicy")
            .Produces<PolicyDocumentView>().Produces<AdminProblem>(StatusCodes.Status404NotFound);
        api.MapGet("/policy/versions/{version:long}", async (long version, IPolicyStore store, CancellationToken ct) => await store.GetAsync(version, ct).ConfigureAwait(false) is { } v
            ? Results.Ok(PolicyDocumentView.From(v))
            : Results.NotFound(new AdminProblem("No such version", $"There is no policy version {version}."))).WithName("GetPolicyVersion")
            .Produces<PolicyDocumentView>().Produces<AdminProblem>(StatusCodes.Status404NotFound);

        // A check, not a change: nothing is stored, so it needs neither a recent second factor nor a same-origin request.
        api.MapPost("/policy/validate", async (ValidatePolicyRequest request, AdminQueries q, CancellationToken ct) =>
        {
            var (document, errors) = PolicyYaml.Parse(request.Yaml ?? string.Empty);
            return new PolicyValidationView(document is not null, document?.Rules.Count ?? 0, errors)
            {
                Warnings = document is null ? [] : await q.FindUnknownPolicyNamesAsync(document, ct).ConfigureAwait(false),
            };
        }).WithName("ValidatePolicy");
        api.MapPost("/policy/simulate", SimulateAsync).WithName("SimulatePolicy");
        AdminApiChanges.Map(api);
    }

    // By username (ordinal), after the last one a reader received; the cursor is compared as given (never trimmed), so
    // no username is skipped or listed twice.
    private static async Task<Results<Ok<IReadOnlyList<UserView>>, BadRequest<AdminProblem>>> ListUsersAsync(AdminQueries q, string? search, string? after, int? limit, CancellationToken ct)
    {
        if (limit < 1)
        {
            return TypedResults.BadRequest(new AdminProblem("Invalid query", "limit is 1 or more."));
        }

        return TypedResults.Ok(await q.ListUsersAsync(search, Math.Min(limit ?? MaxUsersPerAnswer, MaxUsersPerAnswer), ct, string.IsNullOrEmpty(after) ? null : after).ConfigureAwait(false));
    }

    // The chain in order: after a sequence number (a SIEM feed pages on from the last record it has) or the newest N (a tail).
    private static async Task<Results<Ok<List<AuditExportRecord>>, BadRequest<AdminProblem>, Conflict<AdminProblem>>> ReadTrailAsync(IAuditTrail trail, long? after, int? limit, int? newest, CancellationToken ct)
    {
        if (after < 0 || limit < 1 || newest < 1 || (newest is not null && (after is not null || limit is not null)))
        {
            return TypedResults.BadRequest(new AdminProblem("Invalid query", "Give after (a sequence number, 0 or more) with an optional limit (1 or more), or newest (1 or more) alone."));
        }

        var count = Math.Min(newest ?? limit ?? 1000, AuditExportRecord.MaxPerAnswer);
        try
        {
            var page = newest is null
                ? await trail.ReadAfterAsync(after ?? 0, count, ct).ConfigureAwait(false)
                : await trail.ReadNewestAsync(count, ct).ConfigureAwait(false);
            return TypedResults.Ok(page.Select(r => AuditExportRecord.From(r.Sequence, r.Hash, r.Event)).ToList());
        }
        catch (AuditTrailUnreadableException unreadable)
        {
            return TypedResults.Conflict(new AdminProblem("Unreadable audit record", unreadable.Message));
        }
    }

    // One at a time (AuditVerificationGate): a second admin asking meanwhile gets 429 rather than a second full read.
    private static async Task<Results<Ok<AuditChainReport>, JsonHttpResult<AdminProblem>>> VerifyTrailAsync(AuditVerificationGate gate, IAuditTrail trail, CancellationToken ct) =>
        await gate.TryVerifyAsync(trail, ct).ConfigureAwait(false) is { } report
            ? TypedResults.Ok(report)
            : TypedResults.Json(new AdminProblem("Busy", "A verification of the audit trail is already running; ask again when it has finished."), statusCode: StatusCodes.Status429TooManyRequests);

    private static async Task<Results<Ok<DecisionView>, BadRequest<SimulationProblem>>> SimulateAsync(SimulationRequest request, PolicySimulator simulator, IAccessPolicy inForce, IApplicationStore applications, CancellationToken ct)
    {
        var policy = inForce;
        if (request.Yaml is not null)
        {
            var (document, errors) = PolicyYaml.Parse(request.Yaml);
            if (document is null)
            {
                return TypedResults.BadRequest(new SimulationProblem("Invalid policy", "The candidate policy has errors; nothing was evaluated.", errors));
            }

            policy = new RulePolicy(document, applications);
        }

        var result = await simulator.SimulateAsync(policy, new SimulationInput
        {
            User = request.User ?? string.Empty,
            ClientId = request.ClientId ?? string.Empty,
            Resource = request.Resource ?? string.Empty,
            Scopes = request.Scopes ?? [],
            Mfa = request.Mfa,
            AuthenticationAge = TimeSpan.FromMinutes(Math.Clamp(request.AuthAgeMinutes ?? 1, 0, 60 * 24 * 30)),
            RemoteAddress = request.RemoteAddress,
            At = request.At,
        }, ct).ConfigureAwait(false);
        return result.Decision is { } d
            ? TypedResults.Ok(DecisionView.From(d))
            : TypedResults.BadRequest(new SimulationProblem("Unknown input", result.Problem ?? "invalid request", null));
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
