using System.Security.Cryptography;
using System.Text;
using Ema.Protocol;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Microsoft.Extensions.Logging;

namespace Ema.Server.Policy;

/// <summary>One stored version of the policy (the YAML as imported, validated).</summary>
public sealed record PolicyVersion(long Version, string Yaml, string Sha256, DateTimeOffset CreatedAt, string CreatedBy, string? Comment);

/// <summary>Versioned policy storage: the newest version is in force.</summary>
public interface IPolicyStore
{
    Task<PolicyVersion?> GetCurrentAsync(CancellationToken cancellationToken);

    Task<PolicyVersion?> GetAsync(long version, CancellationToken cancellationToken);

    Task<IReadOnlyList<PolicyVersion>> ListAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Adds a version atomically and returns it — with <paramref name="auditRecord"/>'s record of it in the same
    /// transaction when given: both stored, or neither (<see cref="Audit.AuditUnavailableException"/>), so no version is
    /// ever in force without the record of who put it there.
    /// </summary>
    Task<PolicyVersion> AddAsync(string yaml, string createdBy, string? comment, Func<PolicyVersion, Audit.AuditEvent>? auditRecord, CancellationToken cancellationToken);
}

/// <summary>
/// Imports and rollbacks: a file is validated whole (errors with lines; nothing stored when there is any), then stored
/// as a new version in one statement — there is no half-applied policy.
/// </summary>
public sealed class PolicyAdministration(IPolicyStore store)
{
    public async Task<(PolicyVersion? Version, IReadOnlyList<PolicyError> Errors)> ImportAsync(string yaml, string by, string? comment, CancellationToken cancellationToken, Func<PolicyVersion, Audit.AuditEvent>? auditRecord = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(by);
        var (document, errors) = PolicyYaml.Parse(yaml);
        return document is null ? (null, errors) : (await store.AddAsync(yaml, by, comment, auditRecord, cancellationToken).ConfigureAwait(false), []);
    }

    /// <summary>
    /// Makes an older version current again by adding a copy of it (the history is never rewritten) — validated again
    /// first, as an import is: a version stored under older rules, or altered in the database since, is refused with
    /// its errors rather than put in force. Errors are empty and the version null when there is no such version.
    /// </summary>
    public async Task<(PolicyVersion? Version, IReadOnlyList<PolicyError> Errors)> RollbackAsync(long toVersion, string by, CancellationToken cancellationToken, Func<PolicyVersion, Audit.AuditEvent>? auditRecord = null)
    {
        var old = await store.GetAsync(toVersion, cancellationToken).ConfigureAwait(false);
        if (old is null)
        {
            return (null, []);
        }

        var (document, errors) = Read(old);
        if (document is null)
        {
            return (null, errors);
        }

        return (await store.AddAsync(old.Yaml, by, $"rollback to version {toVersion}", auditRecord, cancellationToken).ConfigureAwait(false), []);
    }

    /// <summary>
    /// A stored version as it can be put in force: its document, or why not — its text no longer matches its hash, or no
    /// longer parses (parsed once: a large policy is not cheap to read).
    /// </summary>
    public static (PolicyDocument? Document, IReadOnlyList<PolicyError> Errors) Read(PolicyVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(version.Yaml)), Encoding.ASCII.GetBytes(version.Sha256))
            ? PolicyYaml.Parse(version.Yaml)
            : (null, [new PolicyError(0, $"version {version.Version} was altered after it was stored (its text no longer matches its SHA-256)")]);
    }

    /// <summary>The first errors, one line, as a log line or an explanation shows them.</summary>
    internal static string Summary(IReadOnlyList<PolicyError> errors) =>
        string.Join("; ", errors.Take(3).Select(e => e.Line > 0 ? $"line {e.Line}: {e.Message}" : e.Message));

    public static string Hash(string yaml) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(yaml)));
}

/// <summary>Chooses the evaluation point at start: the configured policy file (validated at start-up), else the store.</summary>
public static class AccessPolicyFactory
{
    /// <summary>
    /// The policy file when one is configured — read again here, after the start-up validation: if it was changed or
    /// removed in between and no longer reads, every request is refused (never the store's policy or entitlements v1,
    /// which the operator chose the file over) —, else <see cref="ManagedAccessPolicy"/> over the store.
    /// </summary>
    public static IAccessPolicy Create(string? policyFile, IPolicyStore? store, IApplicationStore applications, IEntitlementStore entitlements, TimeProvider time, ILogger logger)
    {
        if (string.IsNullOrEmpty(policyFile))
        {
            return new ManagedAccessPolicy(null, store, applications, entitlements, time, logger);
        }

        string reason;
        try
        {
            var (document, errors) = PolicyYaml.Parse(File.ReadAllText(policyFile));
            if (document is not null)
            {
                return new ManagedAccessPolicy(document, store, applications, entitlements, time, logger);
            }

            reason = PolicyAdministration.Summary(errors);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = ex.Message;
        }

        Log.PolicyFileUnreadable(logger, policyFile, reason);
        return new UnreadablePolicy("the policy file", $"the policy file {policyFile} cannot be read — {reason}; every request is refused until it is fixed and the IdP restarted");
    }
}

/// <summary>
/// The evaluation point when policies may be managed as code: the policy file if one is configured, else the newest
/// stored version (re-read at most every few seconds, so an import or rollback takes effect without a restart), else
/// entitlements v1 — only when no version was ever stored. A stored version in force that cannot be read (its text
/// altered, or no longer valid under a stricter parser) refuses every request: falling back to the broader entitlements
/// would fail open.
/// </summary>
public sealed class ManagedAccessPolicy(PolicyDocument? file, IPolicyStore? store, IApplicationStore applications, EntitlementAccessPolicy entitlements, TimeProvider time, ILogger? logger = null) : IAccessPolicy
{
    /// <summary>The policy file when given, else the newest stored version, else entitlements v1 from the stores.</summary>
    public ManagedAccessPolicy(PolicyDocument? file, IPolicyStore? store, IApplicationStore applications, IEntitlementStore entitlements, TimeProvider time, ILogger? logger = null)
        : this(file, store, applications, new EntitlementAccessPolicy(entitlements, applications), time, logger)
    {
    }

    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private (IAccessPolicy? Policy, long Version, DateTimeOffset ReadAt)? _stored;

    public async ValueTask<AccessDecision> EvaluateAsync(AccessRequest request, CancellationToken cancellationToken) =>
        await (await CurrentAsync(cancellationToken).ConfigureAwait(false) ?? (IAccessPolicy)entitlements).EvaluateAsync(request, cancellationToken).ConfigureAwait(false);

    public async ValueTask<IReadOnlyList<EntitledResource>> ListEntitledAsync(User user, IReadOnlyList<string> groupIds, IReadOnlyList<string> roles, ClientApplication client, CancellationToken cancellationToken) =>
        await (await CurrentAsync(cancellationToken).ConfigureAwait(false) ?? (IAccessPolicy)entitlements).ListEntitledAsync(user, groupIds, roles, client, cancellationToken).ConfigureAwait(false);

    private RulePolicy? _fromFile;

    private async ValueTask<IAccessPolicy?> CurrentAsync(CancellationToken cancellationToken)
    {
        if (file is not null)
        {
            return _fromFile ??= new RulePolicy(file, applications);
        }

        if (store is null)
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (_stored is { } cached && now - cached.ReadAt < RefreshEvery)
        {
            return cached.Policy;
        }

        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stored is { } again && now - again.ReadAt < RefreshEvery)
            {
                return again.Policy;
            }

            var current = await store.GetCurrentAsync(cancellationToken).ConfigureAwait(false);
            IAccessPolicy? policy = null;
            if (current is not null)
            {
                policy = _stored is { } previous && previous.Version == current.Version ? previous.Policy : Read(current);
            }

            _stored = (policy, current?.Version ?? 0, now);
            return policy;
        }
        finally
        {
            _refresh.Release();
        }
    }

    private IAccessPolicy Read(PolicyVersion version)
    {
        var (document, errors) = PolicyAdministration.Read(version);
        if (document is not null)
        {
            return new RulePolicy(document, applications);
        }

        var reason = PolicyAdministration.Summary(errors);
        if (logger is not null)
        {
            Log.PolicyUnreadable(logger, version.Version, reason);
        }

        return new UnreadablePolicy($"policy version {version.Version}", $"the policy in force (version {version.Version}) cannot be read — {reason}; every request is refused until a valid version is imported or rolled back");
    }
}

/// <summary>In force while the policy cannot be read: every request refused, with the reason in its explanation.</summary>
internal sealed class UnreadablePolicy(string what, string explanation) : IAccessPolicy
{
    public ValueTask<AccessDecision> EvaluateAsync(AccessRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var decisionId = SecretHasher.NewOrderedId("dec_", request.Now);
        return ValueTask.FromResult(new AccessDecision
        {
            DecisionId = decisionId,
            Error = OAuthError.From(ErrorIds.PolicyUnreadable, $"{what} cannot be read") with { DecisionId = decisionId },
            Explanation = [explanation],
        });
    }

    public ValueTask<IReadOnlyList<EntitledResource>> ListEntitledAsync(User user, IReadOnlyList<string> groupIds, IReadOnlyList<string> roles, ClientApplication client, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<EntitledResource>>([]);
}
