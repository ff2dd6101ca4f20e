using Ema.Client.SignIn;

namespace Ema.Client.Session;

/// <summary>
/// The signed-in user's session in memory and (optionally) on disk: hands out a valid ID token, renewing it with the
/// refresh token shortly before it expires, and runs at most one renewal or step-up sign-in at a time.
/// </summary>
internal sealed class SessionManager(OidcSignIn signIn, EmaClientOptions options, EnterpriseSessionStore? store, IBrowser? browser, TimeProvider time)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private EnterpriseSession? _session;
    private bool _loaded;

    /// <summary>The current session, loading it from disk on first use.</summary>
    public EnterpriseSession? Current
    {
        get
        {
            if (!_loaded && store is not null)
            {
                var (status, session) = store.Load();
                LoadStatus = status;

                // A session belongs to one IdP and one client: after the profile changed IdP or client, the old
                // session's tokens must never be presented to the new one.
                if (session is not null && !IsOurs(session))
                {
                    session = null;
                    LoadStatus = SessionLoadStatus.None;
                }

                _session ??= session;
                _loaded = true;
            }

            return _session;
        }
    }

    /// <summary>What loading from disk found (for status messages).</summary>
    public SessionLoadStatus LoadStatus { get; private set; } = SessionLoadStatus.None;

    public async Task<EnterpriseSession> SignInAsync(StepUpRequest? stepUp, CancellationToken cancellationToken)
    {
        if (browser is null)
        {
            throw new EmaSignInRequiredException(stepUp is null ? "Sign in first: ema login." : "The organization asks you to sign in again (step-up), and this client has no browser to show the sign-in page: run ema login.");
        }

        var session = await signIn.SignInAsync(browser, stepUp, cancellationToken).ConfigureAwait(false);
        using (store is null ? null : await store.LockAsync(cancellationToken).ConfigureAwait(false))
        {
            Keep(session);
        }

        return session;
    }

    /// <summary>Adopts and stores a session obtained by a sign-in, under the profile lock.</summary>
    public void Set(EnterpriseSession session)
    {
        using (store?.Lock())
        {
            Keep(session);
        }
    }

    /// <summary>Forgets the session here and on disk, under the profile lock; whether one was stored.</summary>
    public bool SignOut()
    {
        using (store?.Lock())
        {
            return Forget();
        }
    }

    /// <summary>
    /// Signs out under the profile lock, held from reading the session to deleting it: <paramref name="revoke"/> gets the
    /// newest session of this IdP and client (another process may have renewed it since this one loaded it) and says why
    /// it could not be revoked, or null; the session is forgotten whatever it answers or throws. No renewal in another
    /// process can write the session back afterwards, since renewals take the same lock and re-read the file.
    /// </summary>
    public async Task<(bool Forgotten, string? NotRevoked)> SignOutAsync(Func<EnterpriseSession?, Task<string?>> revoke, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(revoke);
        using var held = store is null ? null : await store.LockAsync(cancellationToken).ConfigureAwait(false);
        var current = Current;
        if (store?.Load().Session is { } onDisk && IsOurs(onDisk))
        {
            current = onDisk;
        }

        string? notRevoked = null;
        var forgotten = false;
        try
        {
            notRevoked = await revoke(current).ConfigureAwait(false);
        }
        finally
        {
            forgotten = Forget();
        }

        return (forgotten, notRevoked);
    }

    private void Keep(EnterpriseSession session)
    {
        store?.Save(session);
        _session = session;
        _loaded = true;
    }

    private bool Forget()
    {
        _session = null;
        _loaded = true;
        return store?.Delete() ?? false;
    }

    // A session belongs to one IdP and one client (see Current).
    private bool IsOurs(EnterpriseSession session) => session.Issuer == options.IdentityProvider && session.ClientId == options.IdentityProviderClient?.ClientId;

    /// <summary>A session whose ID token is valid for at least the renewal margin; <paramref name="forceRenewal"/> renews
    /// even so (the IdP rejected the current one).</summary>
    public async Task<EnterpriseSession> GetValidAsync(bool forceRenewal, CancellationToken cancellationToken)
    {
        var current = Current ?? throw new EmaSignInRequiredException();
        if (!forceRenewal && IsFresh(current))
        {
            return current;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Another caller may have renewed while this one waited.
            if (!ReferenceEquals(_session, current) && _session is { } renewed && IsFresh(renewed))
            {
                return renewed;
            }

            using var held = store is null ? null : await store.LockAsync(cancellationToken).ConfigureAwait(false);
            var latest = current;
            if (store is not null)
            {
                // Another process on this profile may have renewed meanwhile — spending the refresh token this one holds —,
                // signed out, or signed in as someone else. Its session, if it is this user's, is the one to use or renew.
                var (status, onDisk) = store.Load();
                if (onDisk is null || !IsOurs(onDisk) || onDisk.Subject != current.Subject)
                {
                    _session = null;
                    throw new EmaSignInRequiredException(onDisk is not null
                        ? "Another ema process signed in on this profile as someone else, or with another IdP or client: run ema login, or start this command again."
                        : status == SessionLoadStatus.Unreadable
                            ? "The stored session can no longer be read (the profile's key ring changed): run ema login."
                            : "You signed out in another ema process: run ema login.");
                }

                if (onDisk.IdToken != current.IdToken || onDisk.RefreshToken != current.RefreshToken)
                {
                    _session = onDisk;
                    if (IsFresh(onDisk))
                    {
                        return onDisk;
                    }

                    latest = onDisk;
                }
            }

            var refreshed = await signIn.RefreshAsync(latest, cancellationToken).ConfigureAwait(false);
            if (refreshed is null)
            {
                throw new EmaSignInRequiredException("Your sign-in has expired and could not be renewed: run ema login.");
            }

            Keep(refreshed); // the lock is held already
            return refreshed;
        }
        finally
        {
            _gate.Release();
        }
    }

    private bool IsFresh(EnterpriseSession session) => session.IdTokenExpiresAt - options.RenewBeforeExpiry > time.GetUtcNow();

    /// <summary>Signs in again as the IdP demands; one step-up at a time, shared by every waiting caller.</summary>
    public async Task<EnterpriseSession> StepUpAsync(EnterpriseSession stale, StepUpRequest request, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_session is { } current && !ReferenceEquals(current, stale))
            {
                return current; // someone already stepped up
            }

            return await SignInAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }
}
