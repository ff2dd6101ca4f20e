using Ema.Server.Audit;

namespace Ema.Admin.Api;

/// <summary>
/// Lets one verification of the whole audit trail run at a time through the admin API: each reads every block and,
/// for as long as it runs, holds a read snapshot that keeps SQLite from resetting its write-ahead log — several at once
/// would multiply both for no new answer.
/// </summary>
public sealed class AuditVerificationGate : IDisposable
{
    private readonly SemaphoreSlim _one = new(1, 1);

    /// <summary>The report, or null when another verification is running (nothing was read).</summary>
    public async Task<AuditChainReport?> TryVerifyAsync(IAuditTrail trail, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(trail);
        if (!await _one.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        try
        {
            return await trail.VerifyChainAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _one.Release();
        }
    }

    public void Dispose() => _one.Dispose();
}
