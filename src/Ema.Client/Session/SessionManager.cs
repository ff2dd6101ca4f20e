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
                if (session is not null && (session.Issuer != options.IdentityProvider || session.ClientId != options.IdentityProviderClient?.ClientId))
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
        Set(session);
        return session;
    }

    public void Set(EnterpriseSession session)
    {
        _session = session;
        _loaded = true;
        store?.Save(session);
    }

    public bool SignOut()
    {
        _session = null;
        _loaded = true;
        return store?.Delete() ?? false;
    }

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

            using var renewalLock = store is null ? null : await store.LockForRenewalAsync(cancellationToken).ConfigureAwait(false);
            var latest = current;
            if (store is not null)
            {
                // Another process on this profile may have renewed meanwhile — spending the refresh token this one holds —
                // or signed out. Its session, if any, is the one to use or renew.
                var (_, onDisk) = store.Load();
                if (onDisk is null || onDisk.Issuer != options.IdentityProvider || onDisk.ClientId != options.IdentityProviderClient?.ClientId)
                {
                    _session = null;
                    throw new EmaSignInRequiredException("You signed out, or signed in elsewhere, in another ema process: run ema login.");
                }

                if (onDisk.IdToken != current.IdToken)
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

            Set(refreshed);
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
