using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Ema.Tokens.IdTokens;

namespace Ema.Server.IdentityProvider;

/// <summary>
/// Remembers ID tokens this IdP has already verified, keyed by the SHA-256 of the whole token (signature included), until
/// the token's own expiry. A client exchanges one sign-in's ID token for every server it is entitled to, so each token is
/// verified once instead of once per server. Only the signature work is skipped: expiry, the client binding and session
/// revocation are checked on every request.
/// </summary>
public sealed class VerifiedSubjectTokenCache
{
    private readonly ConcurrentDictionary<string, ValidatedIdToken> _entries = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly int _capacity;

    public VerifiedSubjectTokenCache(TimeProvider time, int capacity)
    {
        _time = time;
        _capacity = capacity;
    }

    /// <summary>Validates through <paramref name="validator"/> unless the same token was verified before and has not expired.</summary>
    public async ValueTask<IdTokenValidationResult> ValidateAsync(IdTokenValidator validator, string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(validator);
        if (_capacity <= 0 || token is null)
        {
            return await validator.ValidateAsync(token, cancellationToken).ConfigureAwait(false);
        }

        var key = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        if (_entries.TryGetValue(key, out var cached))
        {
            // Same expiry rule as the validator (60 s skew); an expired entry falls through to a full validation.
            if (_time.GetUtcNow() < cached.ExpiresAt + TimeSpan.FromSeconds(60))
            {
                return new IdTokenValidationResult(cached, IdTokenFailure.None, null);
            }

            _entries.TryRemove(key, out _);
        }

        var result = await validator.ValidateAsync(token, cancellationToken).ConfigureAwait(false);
        if (result.Value is not null)
        {
            if (_entries.Count >= _capacity)
            {
                Prune();
            }

            _entries[key] = result.Value;
        }

        return result;
    }

    private void Prune()
    {
        var now = _time.GetUtcNow();
        foreach (var (key, value) in _entries)
        {
            if (now >= value.ExpiresAt)
            {
                _entries.TryRemove(key, out _);
            }
        }

        if (_entries.Count >= _capacity)
        {
            _entries.Clear(); // bounded memory beats a warm cache
        }
    }
}
