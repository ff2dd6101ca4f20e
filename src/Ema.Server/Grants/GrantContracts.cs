using Ema.Protocol;
using Ema.Server.Clients;

namespace Ema.Server.Grants;

/// <summary>What a grant handler receives: the parsed request and the (authenticated or public) client.</summary>
public sealed record TokenRequestContext
{
    public required TokenRequest Request { get; init; }

    public required ClientIdentity Client { get; init; }

    public string? RemoteAddress { get; init; }

    /// <summary>The RFC 7638 thumbprint of the key of the request's valid DPoP proof (RFC 9449), if it had one.</summary>
    public string? DpopKeyThumbprint { get; init; }
}

/// <summary>Correlation data of a grant decision, for its audit record (never a token or secret).</summary>
public sealed record GrantAuditDetails
{
    public string? Subject { get; init; }

    public string? Resource { get; init; }

    public string? Audience { get; init; }

    public string? Scope { get; init; }

    /// <summary><c>jti</c> of the token issued (the ID-JAG, the ID token, the access token).</summary>
    public string? TokenId { get; init; }

    /// <summary><c>jti</c> of the token the request presented (subject token, assertion).</summary>
    public string? ParentTokenId { get; init; }

    public string? SessionId { get; init; }

    /// <summary>The policy decision id (becomes the audit record id).</summary>
    public string? DecisionId { get; init; }

    /// <summary>Why access was refused, in a policy's words.</summary>
    public string? Reason { get; init; }
}

/// <summary>A grant handler's outcome: a response body or an error, plus what to audit.</summary>
public sealed record GrantResult
{
    public AccessTokenResponse? Tokens { get; init; }

    public TokenExchangeResponse? Exchange { get; init; }

    public OAuthError? Error { get; init; }

    public GrantAuditDetails Audit { get; init; } = new();

    public bool IsSuccess => Error is null;

    public static GrantResult Fail(OAuthError error, GrantAuditDetails? audit = null) => new() { Error = error, Audit = audit ?? new() };
}

/// <summary>
/// One grant type (style rule 1). Handlers are registered in DI and dispatched once, by <see cref="GrantRegistry"/>.
/// </summary>
public interface IGrantHandler
{
    /// <summary>The <c>grant_type</c> value this handler serves.</summary>
    string GrantType { get; }

    /// <summary>Audit event type of its decisions.</summary>
    string AuditType { get; }

    /// <summary>Parameters this grant reads (documentation and diagnostics; unknown parameters are ignored, RFC 6749 §3.2).</summary>
    IReadOnlyList<string> Parameters { get; }

    /// <summary>Handles one request.</summary>
    Task<GrantResult> HandleAsync(TokenRequestContext context, CancellationToken cancellationToken);
}

/// <summary>Dispatches token requests by <c>grant_type</c>; a duplicate registration is a start-up error.</summary>
public sealed class GrantRegistry
{
    private readonly Dictionary<string, IGrantHandler> _handlers = new(StringComparer.Ordinal);

    public GrantRegistry(IEnumerable<IGrantHandler> handlers)
    {
        ArgumentNullException.ThrowIfNull(handlers);
        foreach (var handler in handlers)
        {
            if (!_handlers.TryAdd(handler.GrantType, handler))
            {
                throw new InvalidOperationException($"Two grant handlers are registered for '{handler.GrantType}'.");
            }
        }
    }

    /// <summary>Supported grant types (for metadata).</summary>
    public IReadOnlyCollection<string> GrantTypes => _handlers.Keys;

    public bool TryGet(string grantType, out IGrantHandler handler) => _handlers.TryGetValue(grantType, out handler!);
}
