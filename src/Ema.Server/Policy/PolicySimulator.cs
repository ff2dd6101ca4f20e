using Ema.Server.Stores;

namespace Ema.Server.Policy;

/// <summary>The context a what-if question names (what the token exchange would see).</summary>
public sealed record SimulationInput
{
    /// <summary>Username (or user id).</summary>
    public required string User { get; init; }

    public required string ClientId { get; init; }

    /// <summary>Resource application id or resource identifier.</summary>
    public required string Resource { get; init; }

    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>Whether the sign-in used a second factor.</summary>
    public bool Mfa { get; init; }

    /// <summary>How long ago the user signed in.</summary>
    public TimeSpan AuthenticationAge { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The client's address (for network conditions).</summary>
    public string? RemoteAddress { get; init; }

    /// <summary>When; default now.</summary>
    public DateTimeOffset? At { get; init; }
}

/// <summary>The answer to a what-if question: the decision, or what in the question is unknown.</summary>
public sealed record SimulationResult(AccessDecision? Decision, string? Problem);

/// <summary>
/// The what-if simulator: builds the same <see cref="AccessRequest"/> the token exchange builds (user, groups, roles,
/// client, resource, scopes, authentication context) and asks a policy, issuing nothing and recording nothing.
/// </summary>
public sealed class PolicySimulator(IDirectoryStore directory, IApplicationStore applications, TimeProvider time)
{
    public async Task<SimulationResult> SimulateAsync(IAccessPolicy policy, SimulationInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(input);
        var user = await directory.FindUserByUsernameAsync(input.User.Trim(), cancellationToken).ConfigureAwait(false)
            ?? await directory.FindUserAsync(input.User.Trim(), cancellationToken).ConfigureAwait(false);
        if (user is null)
        {
            return new(null, $"There is no user '{input.User}'.");
        }

        var client = await applications.FindClientAsync(input.ClientId.Trim(), cancellationToken).ConfigureAwait(false);
        if (client is null)
        {
            return new(null, $"There is no client '{input.ClientId}'.");
        }

        var resource = await applications.FindResourceAsync(input.Resource.Trim(), cancellationToken).ConfigureAwait(false)
            ?? await applications.FindResourceByIdentifierAsync(input.Resource.Trim(), cancellationToken).ConfigureAwait(false);
        if (resource is null)
        {
            return new(null, $"There is no resource '{input.Resource}'.");
        }

        var now = input.At ?? time.GetUtcNow();
        var request = new AccessRequest
        {
            User = user,
            GroupIds = await directory.GetGroupIdsAsync(user.Id, cancellationToken).ConfigureAwait(false),
            Roles = await directory.GetRolesAsync(user.Id, cancellationToken).ConfigureAwait(false),
            Client = client,
            Resource = resource,
            RequestedScopes = input.Scopes,
            Authentication = new AuthenticationContext(now - input.AuthenticationAge, input.Mfa ? ["pwd", "otp", "mfa"] : ["pwd"], input.Mfa ? Ema.Server.IdentityProvider.AuthenticationContextClasses.MultiFactor : Ema.Server.IdentityProvider.AuthenticationContextClasses.Password), // as the sign-in page sets acr
            RemoteAddress = input.RemoteAddress,
            Now = now,
        };
        return new(await policy.EvaluateAsync(request, cancellationToken).ConfigureAwait(false), null);
    }
}
