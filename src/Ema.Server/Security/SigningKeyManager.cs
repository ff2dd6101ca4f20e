using System.Security.Cryptography;
using Ema.Server.Stores;
using Ema.Tokens.Keys;
using Microsoft.Extensions.Logging;

namespace Ema.Server.Security;

/// <summary>Encrypts private keys at rest (the host implements it with ASP.NET Core Data Protection; decision 18).</summary>
public interface IKeyProtector
{
    byte[] Protect(byte[] plaintext);

    byte[] Unprotect(byte[] protectedData);

    /// <summary>
    /// A protector for another kind of data under the same keys: what one purpose protects, another cannot read, so a
    /// value handed to users (an enrolment token) can never be taken for a stored secret, or the other way round.
    /// </summary>
    IKeyProtector ForPurpose(string purpose);
}

/// <summary>
/// One signing-key ring per purpose (<c>idp</c>, <c>as</c>), loaded from the store with private keys decrypted, or created
/// and stored on first start. Rotation persists the new entries before they are used.
/// </summary>
public sealed class SigningKeyManager
{
    private readonly ISigningKeyStore _store;
    private readonly IKeyProtector _protector;
    private readonly TimeProvider _time;
    private readonly ILogger<SigningKeyManager> _logger;
    private readonly Dictionary<string, SigningKeyRing> _rings = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _lock = new(1, 1);

    public SigningKeyManager(ISigningKeyStore store, IKeyProtector protector, TimeProvider time, ILogger<SigningKeyManager> logger)
    {
        _store = store;
        _protector = protector;
        _time = time;
        _logger = logger;
    }

    /// <summary>The ring for <paramref name="purpose"/>, loading or creating it on first use.</summary>
    public async Task<SigningKeyRing> GetRingAsync(string purpose, SigningKeyRingOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_rings)
            {
                if (_rings.TryGetValue(purpose, out var existing))
                {
                    return existing;
                }
            }

            var stored = await _store.LoadAsync(purpose, cancellationToken).ConfigureAwait(false);
            SigningKeyRing ring;
            if (stored.Count == 0)
            {
                ring = SigningKeyRing.CreateNew(options, _time);
                await SaveAsync(purpose, ring.Entries, cancellationToken).ConfigureAwait(false);
                Log.SigningKeysCreated(_logger, purpose, ring.Current.KeyId);
            }
            else
            {
                ring = new SigningKeyRing(
                    stored.Select(k => new SigningKeyEntry(
                        SigningKey.ImportPkcs8(Unprotect(k.ProtectedPrivateKey, purpose), k.Algorithm),
                        Enum.Parse<SigningKeyStatus>(k.Status),
                        k.CreatedAt,
                        k.RetiredAt)),
                    options,
                    _time);
            }

            lock (_rings)
            {
                _rings[purpose] = ring;
            }

            return ring;
        }
        finally
        {
            _lock.Release();
        }
    }

    private byte[] Unprotect(byte[] protectedKey, string purpose)
    {
        try
        {
            return _protector.Unprotect(protectedKey);
        }
        catch (CryptographicException ex)
        {
            // A start-up failure an operator must be able to act on: a stack trace of Data Protection's internals is not it.
            throw new InvalidOperationException($"The {purpose} signing keys stored in the database cannot be decrypted with this data folder's Data Protection key ring: the key ring was replaced, or it is encrypted with a certificate that is not configured (Ema:KeyEncryptionCertificatePath). {ex.Message}", ex);
        }
    }

    /// <summary>The ring of <paramref name="purpose"/>, which a start-up task must have loaded.</summary>
    public SigningKeyRing GetLoaded(string purpose)
    {
        lock (_rings)
        {
            return _rings.TryGetValue(purpose, out var ring)
                ? ring
                : throw new InvalidOperationException($"The '{purpose}' signing keys are not loaded yet; the host runs its start-up tasks before serving requests.");
        }
    }

    /// <summary>
    /// Rotates the ring of <paramref name="purpose"/>: the rotated keys are stored first — with the audit record made from
    /// the new current key id, when given, in the same transaction — and only then put in force, so a failed store (or
    /// record) leaves the ring as it was. Returns the new current key id.
    /// </summary>
    public async Task<string> RotateAsync(string purpose, SigningKeyRingOptions options, CancellationToken cancellationToken, Func<string, Audit.AuditEvent>? auditRecord = null)
    {
        var ring = await GetRingAsync(purpose, options, cancellationToken).ConfigureAwait(false);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var entries = ring.ProposeRotation();
            var current = entries.Single(e => e.Status == SigningKeyStatus.Current).Key.KeyId;
            await SaveAsync(purpose, entries, cancellationToken, auditRecord?.Invoke(current)).ConfigureAwait(false);
            ring.Adopt(entries);
            return current;
        }
        finally
        {
            _lock.Release();
        }
    }

    private Task SaveAsync(string purpose, IReadOnlyList<SigningKeyEntry> entries, CancellationToken cancellationToken, Audit.AuditEvent? auditRecord = null) =>
        _store.ReplaceAsync(
            purpose,
            [.. entries.Select(e => new StoredSigningKey(e.Key.KeyId, purpose, e.Key.Algorithm.Name, e.Status.ToString(), _protector.Protect(e.Key.ExportPkcs8()), e.CreatedAt, e.RetiredAt))],
            cancellationToken,
            auditRecord);
}
