namespace Ema.Client;

/// <summary>Where a refusal came from.</summary>
public enum RefusalSource
{
    /// <summary>The enterprise IdP refused the token exchange: organization policy (decisions 10 and 11).</summary>
    IdentityProvider,

    /// <summary>The MCP server's authorization server refused the ID-JAG.</summary>
    AuthorizationServer,

    /// <summary>The MCP server refused the access token.</summary>
    ResourceServer,
}

/// <summary>
/// A refusal, reported as it is and never retried in a loop or turned into a per-server consent prompt (decision 11):
/// "blocked by your organization: reason, decision id".
/// </summary>
/// <param name="Source">Which server refused.</param>
/// <param name="Error">The RFC 6749 §5.2 <c>error</c> code.</param>
/// <param name="Description">The server's <c>error_description</c>, if any.</param>
/// <param name="DecisionId">Ema IdP extension <c>ema_decision_id</c>: the audit record an admin can look up.</param>
public sealed record EmaRefusal(RefusalSource Source, string Error, string? Description, string? DecisionId)
{
    /// <summary>One line for people.</summary>
    public string Reason => Source switch
    {
        RefusalSource.IdentityProvider => $"blocked by your organization: {Description ?? Error}",
        RefusalSource.AuthorizationServer => $"refused by the server's authorization server: {Description ?? Error}",
        _ => $"refused by the server: {Description ?? Error}",
    };
}

/// <summary>Thrown when a server cannot be used because a party refused; carries the typed <see cref="EmaRefusal"/>.</summary>
public sealed class EmaAccessDeniedException : Exception
{
    public EmaAccessDeniedException()
        : this(new EmaRefusal(RefusalSource.IdentityProvider, "access_denied", null, null))
    {
    }

    public EmaAccessDeniedException(string message)
        : base(message)
    {
        Refusal = new EmaRefusal(RefusalSource.IdentityProvider, "access_denied", message, null);
    }

    public EmaAccessDeniedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Refusal = new EmaRefusal(RefusalSource.IdentityProvider, "access_denied", message, null);
    }

    public EmaAccessDeniedException(EmaRefusal refusal)
        : base(refusal?.Reason)
    {
        Refusal = refusal ?? throw new ArgumentNullException(nameof(refusal));
    }

    public EmaRefusal Refusal { get; }
}

/// <summary>Thrown when the user must sign in (no session, or it can no longer be renewed).</summary>
public sealed class EmaSignInRequiredException : Exception
{
    public EmaSignInRequiredException()
        : base("Sign in first: ema login.")
    {
    }

    public EmaSignInRequiredException(string message)
        : base(message)
    {
    }

    public EmaSignInRequiredException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Thrown when a server or IdP does not behave as the specs require (bad metadata, issuer mismatch, no ID-JAG
/// profile, a malformed response): a configuration problem, not a policy decision.</summary>
public sealed class EmaProtocolException : Exception
{
    public EmaProtocolException()
    {
    }

    public EmaProtocolException(string message)
        : base(message)
    {
    }

    public EmaProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
