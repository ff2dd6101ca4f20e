namespace Ema.Tokens.Replay;

/// <summary>Outcome of recording a <c>jti</c>.</summary>
public enum ReplayCheckResult
{
    /// <summary>First use: recorded.</summary>
    Accepted,

    /// <summary>Already used and not yet expired: reject.</summary>
    Replayed,

    /// <summary>The cache cannot record it (full or unreachable): reject, fail closed.</summary>
    Unavailable,
}

/// <summary>
/// Single-use enforcement for assertion identifiers (EMA security §7.4.2; decision 2): an atomic insert-if-absent scoped
/// by issuer, kept until the assertion's expiry plus skew.
/// </summary>
public interface IReplayCache
{
    /// <summary>Records (<paramref name="issuer"/>, <paramref name="jwtId"/>) until <paramref name="expiresAt"/>; exactly one of any number of concurrent callers gets <see cref="ReplayCheckResult.Accepted"/>.</summary>
    ValueTask<ReplayCheckResult> TryAddAsync(string issuer, string jwtId, DateTimeOffset expiresAt, CancellationToken cancellationToken);
}
