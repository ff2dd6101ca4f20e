using System.Security.Cryptography;
using System.Text;
using Ema.Server.Model;
using Ema.Server.Stores;

namespace Ema.Server.Policy;

/// <summary>One stored version of the policy (the YAML as imported, validated).</summary>
public sealed record PolicyVersion(long Version, string Yaml, string Sha256, DateTimeOffset CreatedAt, string CreatedBy, string? Comment);

/// <summary>Versioned policy storage: the newest version is in force.</summary>
public interface IPolicyStore
{
    Task<PolicyVersion?> GetCurrentAsync(CancellationToken cancellationToken);

    Task<PolicyVersion?> GetAsync(long version, CancellationToken cancellationToken);

    Task<IReadOnlyList<PolicyVersion>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Adds a version atomically and returns it.</summary>
    Task<PolicyVersion> AddAsync(string yaml, string createdBy, string? comment, CancellationToken cancellationToken);
}

/// <summary>
/// Imports and rollbacks: a file is validated whole (errors with lines; nothing stored when there is any), then stored
/// as a new version in one statement — there is no half-applied policy.
/// </summary>
public sealed class PolicyAdministration(IPolicyStore store)
{
    public async Task<(PolicyVersion? Version, IReadOnlyList<PolicyError> Errors)> ImportAsync(string yaml, string by, string? comment, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(by);
        var (document, errors) = PolicyYaml.Parse(yaml);
        return document is null ? (null, errors) : (await store.AddAsync(yaml, by, comment, cancellationToken).ConfigureAwait(false), []);
    }

    /// <summary>Makes an older version current again by adding a copy of it (the history is never rewritten).</summary>
    public async Task<PolicyVersion?> RollbackAsync(long toVersion, string by, CancellationToken cancellationToken)
    {
        var old = await store.GetAsync(toVersion, cancellationToken).ConfigureAwait(false);
        return old is null ? null : await store.AddAsync(old.Yaml, by, $"rollback to version {toVersion}", cancellationToken).ConfigureAwait(false);
    }

    public static string Hash(string yaml) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(yaml)));
}

/// <summary>
/// The evaluation point when policies may be managed as code: the policy file if one is configured, else the newest
/// stored version (re-read at most every few seconds, so an import or rollback takes effect without a restart), else
/// entitlements v1.
/// </summary>
public sealed class ManagedAccessPolicy(PolicyDocument? file, IPolicyStore? store, IApplicationStore applications, EntitlementAccessPolicy entitlements, TimeProvider time) : IAccessPolicy
{
    /// <summary>The policy file when given, else the newest stored version, else entitlements v1 from the stores.</summary>
    public ManagedAccessPolicy(PolicyDocument? file, IPolicyStore? store, IApplicationStore applications, IEntitlementStore entitlements, TimeProvider time)
        : this(file, store, applications, new EntitlementAccessPolicy(entitlements, applications), time)
    {
    }

    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private (RulePolicy? Policy, long Version, DateTimeOffset ReadAt)? _stored;

    public async ValueTask<AccessDecision> EvaluateAsync(AccessRequest request, CancellationToken cancellationToken) =>
        await (await CurrentAsync(cancellationToken).ConfigureAwait(false) ?? (IAccessPolicy)entitlements).EvaluateAsync(request, cancellationToken).ConfigureAwait(false);

    public async ValueTask<IReadOnlyList<EntitledResource>> ListEntitledAsync(User user, IReadOnlyList<string> groupIds, IReadOnlyList<string> roles, ClientApplication client, CancellationToken cancellationToken) =>
        await (await CurrentAsync(cancellationToken).ConfigureAwait(false) ?? (IAccessPolicy)entitlements).ListEntitledAsync(user, groupIds, roles, client, cancellationToken).ConfigureAwait(false);

    private RulePolicy? _fromFile;

    private async ValueTask<RulePolicy?> CurrentAsync(CancellationToken cancellationToken)
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
            RulePolicy? policy = null;
            if (current is not null)
            {
                policy = _stored is { } previous && previous.Version == current.Version
                    ? previous.Policy
                    : PolicyYaml.Parse(current.Yaml).Document is { } document ? new RulePolicy(document, applications) : null; // stored versions were validated
            }

            _stored = (policy, current?.Version ?? 0, now);
            return policy;
        }
        finally
        {
            _refresh.Release();
        }
    }
}
