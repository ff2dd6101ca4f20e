using System.Globalization;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Security;
using Ema.Server.Stores;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ema.Server.IdentityProvider;

/// <summary>What the authorization endpoint does next.</summary>
public enum AuthorizeAction
{
    /// <summary>Show an error page: the client or redirect URI cannot be trusted (RFC 6749 §4.1.2.1: do not redirect).</summary>
    ShowError,

    /// <summary>Redirect to the client (a code, or an error it can handle).</summary>
    Redirect,

    /// <summary>Show the sign-in page for the pending request.</summary>
    SignIn,
}

/// <summary>Outcome of an authorization step.</summary>
public sealed record AuthorizeResult(AuthorizeAction Action, string? RedirectUri = null, string? PendingId = null, OAuthError? Error = null, string? ClientName = null);

/// <summary>Outcome of a sign-in attempt; <paramref name="Enrollment"/> when the user must first set up an authenticator.</summary>
public sealed record SignInResult(bool Succeeded, string? SessionHandle, string? Message, AuthorizeResult? Next, MfaEnrollment? Enrollment = null);

/// <summary>Outcome of a password check: a session, or a message, or an authenticator to set up first.</summary>
public sealed record AuthenticationOutcome(IdpSession? Session, string? Handle, string? Message, MfaEnrollment? Enrollment = null);

/// <summary>
/// An authenticator to set up (RFC 6238): the secret for the user's app, the <c>otpauth</c> URI, and the encrypted,
/// expiring token that carries the password step to the enrolment step (bound to the user and the sign-in request).
/// </summary>
public sealed record MfaEnrollment(string SecretBase32, string OtpAuthUri, string Token);

/// <summary>
/// The OIDC authorization endpoint and sign-in (OIDC Core §3.1.2; RFC 6749 §4.1; RFC 7636; RFC 8252 §7.3; RFC 9207).
/// PKCE with S256 is required, redirect URIs match exactly (loopback ones on any port), and the pending request stays
/// server-side: the browser carries only its random id, never credentials.
/// </summary>
public sealed class AuthorizationEndpointService
{
    private readonly IApplicationStore _applications;
    private readonly IDirectoryStore _directory;
    private readonly IGrantStore _grants;
    private readonly IAuditSink _audit;
    private readonly PasswordHasher _passwords;
    private readonly IdentityProviderOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<AuthorizationEndpointService> _logger;
    private readonly UnknownUsernameAttempts _unknownUsernames = new();
    private readonly SignInRateLimit _signInRateLimit;

    /// <summary>Longer names are answered as unknown without a lookup (the console allows 64 characters).</summary>
    public const int MaxUsernameLength = 256;

    public AuthorizationEndpointService(IApplicationStore applications, IDirectoryStore directory, IGrantStore grants, IAuditSink audit, PasswordHasher passwords, IOptions<IdentityProviderOptions> options, TimeProvider time, ILogger<AuthorizationEndpointService> logger, IMfaStore? mfa = null, IKeyProtector? keyProtector = null)
    {
        _mfa = mfa;
        _keyProtector = keyProtector;
        _enrollmentProtector = keyProtector?.ForPurpose(EnrollmentTokenPurpose);
        ArgumentNullException.ThrowIfNull(options);
        _applications = applications;
        _directory = directory;
        _grants = grants;
        _audit = audit;
        _passwords = passwords;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _signInRateLimit = new SignInRateLimit(time, _options.SignInAttemptsPerAddressPerMinute);
    }

    /// <summary>Handles <c>/authorize</c> with the query parameters and the current session (if any).</summary>
    private readonly IMfaStore? _mfa;
    private readonly IKeyProtector? _keyProtector;

    // Enrolment tokens travel through the user's browser: protected under a purpose of their own, never readable as a
    // stored secret (TOTP secrets and signing keys use the base purpose) and the other way round.
    private readonly IKeyProtector? _enrollmentProtector;

    /// <summary>The Data Protection purpose of MFA enrolment tokens.</summary>
    public const string EnrollmentTokenPurpose = "Ema.MfaEnrollment.v1";

    /// <summary>Whether the request's <c>acr_values</c> ask for multi-factor authentication.</summary>
    public static bool AsksForMfa(string? acrValues) =>
        (acrValues ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(AuthenticationContextClasses.MultiFactor, StringComparer.Ordinal);

    public async Task<AuthorizeResult> AuthorizeAsync(Func<string, string?> query, IdpSession? session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var clientId = query(OAuthParameters.ClientId);
        var client = clientId is null ? null : await _applications.FindClientAsync(clientId, cancellationToken).ConfigureAwait(false);
        if (client is null || !client.Enabled)
        {
            return new(AuthorizeAction.ShowError, Error: OAuthError.From(ErrorIds.AuthorizeClientUnknown));
        }

        var redirectUri = query(OAuthParameters.RedirectUri);
        if (redirectUri is null || !IsRegisteredRedirect(client, redirectUri))
        {
            return new(AuthorizeAction.ShowError, Error: OAuthError.From(ErrorIds.AuthorizeRedirectUriInvalid), ClientName: client.Name);
        }

        var state = query(OAuthParameters.State);
        if (query(OAuthParameters.ResponseType) != ResponseTypes.Code)
        {
            return RedirectError(redirectUri, state, OAuthError.From(ErrorIds.AuthorizeResponseTypeUnsupported));
        }

        if (!client.GrantTypes.Contains(GrantTypes.AuthorizationCode, StringComparer.Ordinal))
        {
            return RedirectError(redirectUri, state, OAuthError.From(ErrorIds.AuthorizeClientNotAllowed));
        }

        var scope = query(OAuthParameters.Scope) ?? string.Empty;
        if (!Ema.Tokens.ScopeList.TryParse(scope, out var scopes) || !scopes.Contains(OidcScopes.OpenId))
        {
            return RedirectError(redirectUri, state, OAuthError.From(ErrorIds.AuthorizeScopeInvalid));
        }

        // RFC 7636 §4.4.1, EMA-S+ §7.5.2: PKCE is required, and only S256.
        var challenge = query(OAuthParameters.CodeChallenge);
        if (challenge is null || query(OAuthParameters.CodeChallengeMethod) != CodeChallengeMethods.S256 || challenge.Length != 43)
        {
            return RedirectError(redirectUri, state, OAuthError.From(ErrorIds.AuthorizePkceRequired));
        }

        int? maxAge = null;
        if (query(OAuthParameters.MaxAge) is { } maxAgeText)
        {
            if (!int.TryParse(maxAgeText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                return RedirectError(redirectUri, state, OAuthError.InvalidRequest("max_age must be a non-negative integer."));
            }

            maxAge = parsed;
        }

        var prompt = (query(OAuthParameters.Prompt) ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var pending = new PendingAuthorization
        {
            Id = SecretHasher.NewId("ar_", 18),
            ClientId = client.ClientId,
            RedirectUri = redirectUri,
            Scope = string.Join(' ', scopes),
            State = state,
            Nonce = query(OAuthParameters.Nonce),
            CodeChallenge = challenge,
            MaxAge = maxAge,
            AcrValues = query(OAuthParameters.AcrValues),
            ExpiresAt = _time.GetUtcNow() + _options.PendingAuthorizationLifetime,
        };

        // OIDC Core §3.1.2.1: prompt=login and an exceeded max_age force a new sign-in; prompt=none never shows one.
        var sessionUsable = session is not null && !prompt.Contains(PromptValues.Login)
            && (maxAge is null || _time.GetUtcNow() - session.AuthTime <= TimeSpan.FromSeconds(maxAge.Value))
            && (!AsksForMfa(pending.AcrValues) || session.Acr == AuthenticationContextClasses.MultiFactor); // step-up: a password session is not enough
        if (sessionUsable)
        {
            return await IssueCodeAsync(pending, session!, cancellationToken).ConfigureAwait(false);
        }

        if (prompt.Contains(PromptValues.None))
        {
            return RedirectError(redirectUri, state, OAuthError.From(ErrorIds.AuthorizeLoginRequired));
        }

        await _grants.SavePendingAuthorizationAsync(pending, cancellationToken).ConfigureAwait(false);
        return new(AuthorizeAction.SignIn, PendingId: pending.Id, ClientName: client.Name);
    }

    /// <summary>The pending request, if it exists and has not expired.</summary>
    public async Task<PendingAuthorization?> FindPendingAsync(string? pendingId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(pendingId))
        {
            return null;
        }

        var pending = await _grants.FindPendingAuthorizationAsync(pendingId, cancellationToken).ConfigureAwait(false);
        return pending is not null && pending.ExpiresAt > _time.GetUtcNow() ? pending : null;
    }

    /// <summary>Checks a username and password; on success creates a session and issues the code of the pending request.</summary>
    public async Task<SignInResult> SignInAsync(string pendingId, string username, string password, string? remoteAddress, CancellationToken cancellationToken, string? oneTimeCode = null)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        var pending = await FindPendingAsync(pendingId, cancellationToken).ConfigureAwait(false);
        if (pending is null)
        {
            return new(false, null, OAuthError.From(ErrorIds.AuthorizeRequestExpired).Description, null);
        }

        var outcome = await AuthenticateAsync(pending.ClientId, username, password, remoteAddress, cancellationToken, oneTimeCode, AsksForMfa(pending.AcrValues), pending.Id).ConfigureAwait(false);
        if (outcome.Session is null)
        {
            return new(false, null, outcome.Message, null, outcome.Enrollment);
        }

        var next = await IssueCodeAsync(pending, outcome.Session, cancellationToken).ConfigureAwait(false);
        return new(true, outcome.Handle, null, next);
    }

    /// <summary>
    /// The enrolment step: the token proves the password step (same user, same request, in time); the code proves the
    /// user's app holds the secret. Then the authenticator is stored (encrypted), the step is marked used, and the
    /// sign-in completes with MFA.
    /// </summary>
    public async Task<SignInResult> CompleteMfaEnrollmentAsync(string pendingId, string enrollmentToken, string? oneTimeCode, string? remoteAddress, CancellationToken cancellationToken)
    {
        var pending = await FindPendingAsync(pendingId, cancellationToken).ConfigureAwait(false);
        if (pending is null)
        {
            return new(false, null, OAuthError.From(ErrorIds.AuthorizeRequestExpired).Description, null);
        }

        var now = _time.GetUtcNow();
        var enrollment = ReadEnrollment(enrollmentToken);
        if (enrollment is null || enrollment.Value.PendingId != pending.Id || enrollment.Value.ExpiresAt < now || _mfa is null || _keyProtector is null)
        {
            return new(false, null, "The authenticator set-up expired. Sign in again.", null);
        }

        var (userId, _, secretBase32, _) = enrollment.Value;
        var user = await _directory.FindUserAsync(userId, cancellationToken).ConfigureAwait(false);
        if (user is null || user.Status != UserStatus.Active)
        {
            return new(false, null, "Your account is disabled. Contact your administrator.", null);
        }

        if (await ExcludedFromSelfEnrollmentAsync(user.Id, cancellationToken).ConfigureAwait(false))
        {
            return new(false, null, "Your account's authenticator is set up by an administrator.", null);
        }

        if (await _mfa.FindTotpAsync(user.Id, cancellationToken).ConfigureAwait(false) is not null)
        {
            // Never replace an enrolled authenticator from the sign-in page.
            return new(false, null, "An authenticator is already set up for your account. Sign in again with its code.", null);
        }

        var secret = Totp.FromBase32(secretBase32);
        var step = Totp.Verify(secret, oneTimeCode, now, 0);
        if (step is null)
        {
            await AuditSignInAsync(user.Id, pending.ClientId, AuditOutcomes.Failed, "mfa enrolment: wrong one-time code", remoteAddress, null, cancellationToken).ConfigureAwait(false);
            return new(false, null, "That code is not right. Enter the code your app shows now.", null, new MfaEnrollment(secretBase32, Totp.OtpAuthUri(user.Username, secretBase32), enrollmentToken));
        }

        // Insert-only and the step claimed atomically: of two concurrent completions (say, someone holding the password
        // and the user), exactly one enrols and signs in; the other is refused.
        if (!await _mfa.TryAddTotpAsync(user.Id, _keyProtector.Protect(secret), cancellationToken).ConfigureAwait(false)
            || !await _mfa.TryUseStepAsync(user.Id, step.Value, cancellationToken).ConfigureAwait(false))
        {
            return new(false, null, "An authenticator is already set up for your account. Sign in again with its code.", null);
        }

        var (session, handle) = await StartSessionAsync(user, pending.ClientId, mfa: true, "password and one-time code (authenticator enrolled)", remoteAddress, cancellationToken).ConfigureAwait(false);
        var next = await IssueCodeAsync(pending, session, cancellationToken).ConfigureAwait(false);
        return new(true, handle, null, next);
    }

    private string NewEnrollmentToken(string userId, string pendingId, string secretBase32)
    {
        var expires = (_time.GetUtcNow() + _options.MfaEnrollmentLifetime).ToUnixTimeSeconds();
        var plain = System.Text.Encoding.UTF8.GetBytes(string.Join('\n', "v1", userId, pendingId, secretBase32, expires.ToString(CultureInfo.InvariantCulture)));
        return Convert.ToBase64String(_enrollmentProtector!.Protect(plain));
    }

    private (string UserId, string PendingId, string SecretBase32, DateTimeOffset ExpiresAt)? ReadEnrollment(string? token)
    {
        if (string.IsNullOrEmpty(token) || _enrollmentProtector is null || token.Length > 2048)
        {
            return null;
        }

        try
        {
            var parts = System.Text.Encoding.UTF8.GetString(_enrollmentProtector.Unprotect(Convert.FromBase64String(token))).Split('\n');
            return parts is ["v1", var user, var pending, var secret, var expires] && long.TryParse(expires, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                ? (user, pending, secret, DateTimeOffset.FromUnixTimeSeconds(seconds))
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }

    /// <summary>Holders of an excluded role are enrolled by an administrator, never on the sign-in page.</summary>
    private async Task<bool> ExcludedFromSelfEnrollmentAsync(string userId, CancellationToken cancellationToken) =>
        (await _directory.GetRolesAsync(userId, cancellationToken).ConfigureAwait(false)).Any(r => _options.MfaSelfEnrollmentExcludedRoles.Contains(r, StringComparer.Ordinal));

    /// <summary>
    /// Checks a username and password for <paramref name="clientId"/> — the same answer for unknown users and wrong
    /// passwords, lockout with back-off, one audit record — and on success creates the IdP session.
    /// </summary>
    public async Task<AuthenticationOutcome> AuthenticateAsync(string clientId, string username, string password, string? remoteAddress, CancellationToken cancellationToken, string? oneTimeCode = null, bool requireMfa = false, string? pendingId = null)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        var now = _time.GetUtcNow();
        var limit = _signInRateLimit.TryAcquire(remoteAddress);
        if (!limit.Allowed)
        {
            // Before any lookup or password check: spraying one password over many accounts from one address stops here.
            // One audit record per address and window: the refusals themselves are the cheapest request there is.
            if (limit.FirstRefusal)
            {
                await AuditSignInAsync(null, clientId, AuditOutcomes.Failed, "too many sign-in attempts from this address; further ones this minute are refused unrecorded", remoteAddress, null, cancellationToken).ConfigureAwait(false);
            }

            var seconds = Math.Max(1, (int)Math.Ceiling(limit.RetryAfter.TotalSeconds));
            return new(null, null, $"Too many sign-in attempts from your network. Try again in {seconds} second{(seconds == 1 ? string.Empty : "s")}.");
        }

        var plausible = username.Length <= MaxUsernameLength;
        var user = plausible ? await _directory.FindUserByUsernameAsync(username.Trim(), cancellationToken).ConfigureAwait(false) : null;
        if (user is null)
        {
            // Same work and answers as a real user's wrong password — lockout included —, so nothing here reveals which
            // usernames exist. (No user has a name this long: it is not worth remembering either.)
            var phantom = plausible ? _unknownUsernames.Begin(username, now, failures => LockoutAfter(failures, now)) : null;
            if (phantom is { Refused: true })
            {
                await AuditSignInAsync(null, clientId, AuditOutcomes.Failed, "unknown user; locked out", remoteAddress, null, cancellationToken).ConfigureAwait(false);
                return new(null, null, TooManyAttempts(phantom.LockedUntil!.Value, now));
            }

            PasswordHasher.Verify(password, _passwords.DummyHash);
            await AuditSignInAsync(null, clientId, AuditOutcomes.Failed, "unknown user", remoteAddress, null, cancellationToken).ConfigureAwait(false);
            return new(null, null, "The username or password is incorrect.");
        }

        // Counted before the password is checked, so parallel guesses cannot outrun the lockout (see the store's contract).
        var attempt = await _directory.BeginSignInAttemptAsync(user.Id, now, failures => LockoutAfter(failures, now), cancellationToken).ConfigureAwait(false);
        if (attempt is { Refused: true })
        {
            await AuditSignInAsync(user.Id, clientId, AuditOutcomes.Failed, "locked out", remoteAddress, null, cancellationToken).ConfigureAwait(false);
            return new(null, null, TooManyAttempts(attempt.LockedUntil!.Value, now));
        }

        if (!PasswordHasher.Verify(password, attempt?.PasswordHash ?? _passwords.DummyHash) || attempt?.PasswordHash is null)
        {
            await AuditSignInAsync(user.Id, clientId, AuditOutcomes.Failed, attempt?.LockedUntil is null ? "wrong password" : "wrong password; locked", remoteAddress, null, cancellationToken).ConfigureAwait(false);
            return new(null, null, "The username or password is incorrect.");
        }

        // The password was right: this attempt was no guess, whatever else stops the sign-in. Not cancellable: a browser
        // that goes away now must not leave a right password counted as a failure.
        await _directory.ClearSignInFailuresAsync(user.Id, attempt.Count, CancellationToken.None).ConfigureAwait(false);
        _signInRateLimit.Release(remoteAddress);
        if (user.Status != UserStatus.Active)
        {
            await AuditSignInAsync(user.Id, clientId, AuditOutcomes.Failed, "account disabled", remoteAddress, null, cancellationToken).ConfigureAwait(false);
            return new(null, null, "Your account is disabled. Contact your administrator.");
        }

        var mfa = false;
        if (requireMfa)
        {
            // RFC 6238 second factor, asked for by the client's acr_values (the IdP's step-up answer names it).
            var enrolled = _mfa is null ? null : await _mfa.FindTotpAsync(user.Id, cancellationToken).ConfigureAwait(false);
            var mayEnrol = enrolled is null && _keyProtector is not null && _options.MfaSelfEnrollment && pendingId is not null
                && !await ExcludedFromSelfEnrollmentAsync(user.Id, cancellationToken).ConfigureAwait(false);
            if (mayEnrol)
            {
                // First use of MFA: the password was right; the user sets up an authenticator before the sign-in completes.
                var secret = Totp.NewSecret();
                var base32 = Totp.Base32(secret);
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(secret);
                await AuditSignInAsync(user.Id, clientId, AuditOutcomes.Failed, "mfa required, enrolment offered", remoteAddress, null, cancellationToken).ConfigureAwait(false);
                return new(null, null, "Your organization asks for a second factor. Set up an authenticator app to continue.", new MfaEnrollment(base32, Totp.OtpAuthUri(user.Username, base32), NewEnrollmentToken(user.Id, pendingId!, base32)));
            }

            if (enrolled is null || _keyProtector is null)
            {
                await AuditSignInAsync(user.Id, clientId, AuditOutcomes.Failed, "mfa required, none enrolled", remoteAddress, null, cancellationToken).ConfigureAwait(false);
                return new(null, null, "Your organization asks for a second factor here, and your account has no authenticator yet: an administrator sets it up for you.");
            }

            if (oneTimeCode is null)
            {
                // Nothing guessed: the page asks for the code.
                await AuditSignInAsync(user.Id, clientId, AuditOutcomes.Failed, "one-time code missing", remoteAddress, null, cancellationToken).ConfigureAwait(false);
                return new(null, null, "Enter the one-time code from your authenticator app.");
            }

            // Codes have a count and a lock of their own, with the same back-off as passwords: whoever holds the password
            // must not guess codes for ever, and a password-only sign-in (no code asked) must not reset their count. Counted
            // before the code is checked, as passwords are; only a right code clears it.
            var codeAttempt = await _mfa!.BeginCodeAttemptAsync(user.Id, now, failures => LockoutAfter(failures, now), cancellationToken).ConfigureAwait(false);
            if (codeAttempt is null or { Refused: true })
            {
                await AuditSignInAsync(user.Id, clientId, AuditOutcomes.Failed, codeAttempt is null ? "authenticator removed during the sign-in" : "one-time codes locked out", remoteAddress, null, cancellationToken).ConfigureAwait(false);
                return new(null, null, codeAttempt is { LockedUntil: { } codesLocked } ? TooManyAttempts(codesLocked, now) : "The one-time code is incorrect or was already used.");
            }

            var step = Totp.Verify(_keyProtector.Unprotect(enrolled!.Value.ProtectedSecret), oneTimeCode, now, enrolled.Value.LastStep);
            if (step is null || !await _mfa.TryUseStepAsync(user.Id, step.Value, cancellationToken).ConfigureAwait(false))
            {
                await AuditSignInAsync(user.Id, clientId, AuditOutcomes.Failed, codeAttempt.LockedUntil is null ? "wrong or reused one-time code" : "wrong or reused one-time code; locked", remoteAddress, null, cancellationToken).ConfigureAwait(false);
                return new(null, null, "The one-time code is incorrect or was already used.");
            }

            await _mfa.ClearCodeFailuresAsync(user.Id, codeAttempt.Count, CancellationToken.None).ConfigureAwait(false);
            mfa = true;
        }

        var (session, handle) = await StartSessionAsync(user, clientId, mfa, mfa ? "password and one-time code" : "password", remoteAddress, cancellationToken).ConfigureAwait(false);
        return new(session, handle, null);
    }

    private static string TooManyAttempts(DateTimeOffset lockedUntil, DateTimeOffset now)
    {
        var minutes = Math.Max(1, (int)Math.Ceiling((lockedUntil - now).TotalMinutes));
        return $"Too many failed attempts. Try again in {minutes} minute{(minutes == 1 ? string.Empty : "s")}.";
    }

    /// <summary>Lockout after the <paramref name="failures"/>th failure: none below the threshold, then doubling up to the maximum.</summary>
    private DateTimeOffset? LockoutAfter(int failures, DateTimeOffset now)
    {
        if (failures < _options.LockoutThreshold)
        {
            return null;
        }

        var factor = Math.Pow(2, Math.Min(failures - _options.LockoutThreshold, 16));
        return now + TimeSpan.FromTicks((long)Math.Min(_options.LockoutDuration.Ticks * factor, _options.MaxLockoutDuration.Ticks));
    }

    private async Task<(IdpSession Session, string Handle)> StartSessionAsync(User user, string clientId, bool mfa, string reason, string? remoteAddress, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var handle = SecretHasher.NewSecret();
        var session = new IdpSession
        {
            Id = SecretHasher.NewId("sid_"),
            HandleHash = SecretHasher.Hash(handle),
            UserId = user.Id,
            AuthTime = now,
            Amr = mfa ? ["pwd", "otp", "mfa"] : ["pwd"],
            Acr = mfa ? AuthenticationContextClasses.MultiFactor : AuthenticationContextClasses.Password,
            ExpiresAt = now + _options.SessionLifetime,
        };
        await _grants.SaveSessionAsync(session, cancellationToken).ConfigureAwait(false);
        await AuditSignInAsync(user.Id, clientId, AuditOutcomes.Succeeded, reason, remoteAddress, session.Id, cancellationToken).ConfigureAwait(false);
        Log.SignIn(_logger, AuditOutcomes.Succeeded, user.Id, "password");
        return (session, handle);
    }

    /// <summary>The live session for a cookie handle, or null.</summary>
    public async Task<IdpSession?> FindSessionAsync(string? handle, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(handle))
        {
            return null;
        }

        var session = await _grants.FindSessionByHandleHashAsync(SecretHasher.Hash(handle), cancellationToken).ConfigureAwait(false);
        return session is not null && !session.Revoked && session.ExpiresAt > _time.GetUtcNow() ? session : null;
    }

    /// <summary>Ends a session (RP-initiated logout) and records it.</summary>
    public async Task SignOutAsync(IdpSession session, string? remoteAddress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        await _grants.RevokeSessionAsync(session.Id, cancellationToken).ConfigureAwait(false);
        await _audit.WriteAsync(
            new AuditEvent { Id = SecretHasher.NewOrderedId("evt_", _time.GetUtcNow()), Time = _time.GetUtcNow(), Type = AuditEventTypes.SignOut, Outcome = AuditOutcomes.Succeeded, Subject = session.UserId, SessionId = session.Id, RemoteAddress = remoteAddress },
            cancellationToken).ConfigureAwait(false);
    }

    private async Task<AuthorizeResult> IssueCodeAsync(PendingAuthorization pending, IdpSession session, CancellationToken cancellationToken)
    {
        var code = SecretHasher.NewSecret();
        await _grants.SaveAuthorizationCodeAsync(
            new AuthorizationCodeGrant
            {
                CodeHash = SecretHasher.Hash(code),
                ClientId = pending.ClientId,
                RedirectUri = pending.RedirectUri,
                UserId = session.UserId,
                SessionId = session.Id,
                Scope = pending.Scope,
                Nonce = pending.Nonce,
                CodeChallenge = pending.CodeChallenge,
                AuthTime = session.AuthTime,
                Amr = session.Amr,
                Acr = session.Acr,
                IssuedAt = _time.GetUtcNow(),
                ExpiresAt = _time.GetUtcNow() + _options.AuthorizationCodeLifetime,
            },
            cancellationToken).ConfigureAwait(false);
        await _grants.DeletePendingAuthorizationAsync(pending.Id, cancellationToken).ConfigureAwait(false);
        return new(AuthorizeAction.Redirect, RedirectUri: AppendQuery(pending.RedirectUri, [(OAuthParameters.Code, code), (OAuthParameters.State, pending.State), (OAuthParameters.Issuer, _options.Issuer)]));
    }

    private AuthorizeResult RedirectError(string redirectUri, string? state, OAuthError error) =>
        new(AuthorizeAction.Redirect, RedirectUri: AppendQuery(redirectUri, [(OAuthParameters.Error, error.Code), (OAuthParameters.ErrorDescription, error.Description), (OAuthParameters.State, state), (OAuthParameters.Issuer, _options.Issuer)]), Error: error);

    private async Task AuditSignInAsync(string? userId, string clientId, string outcome, string reason, string? remoteAddress, string? sessionId, CancellationToken cancellationToken)
    {
        if (outcome != AuditOutcomes.Succeeded)
        {
            Log.SignIn(_logger, outcome, userId, reason);
        }

        await _audit.WriteAsync(
            new AuditEvent { Id = SecretHasher.NewOrderedId("evt_", _time.GetUtcNow()), Time = _time.GetUtcNow(), Type = AuditEventTypes.SignIn, Outcome = outcome, Reason = reason, Subject = userId, ClientId = clientId, SessionId = sessionId, RemoteAddress = remoteAddress },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Exact match, except that a registered loopback redirect (http on 127.0.0.1, [::1] or localhost) matches the same URI
    /// on any port (RFC 8252 §7.3: native apps pick their port at run time).
    /// </summary>
    public static bool IsRegisteredRedirect(ClientApplication client, string redirectUri)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (client.RedirectUris.Contains(redirectUri, StringComparer.Ordinal))
        {
            return true;
        }

        if (!Uri.TryCreate(redirectUri, UriKind.Absolute, out var requested) || requested.Scheme != Uri.UriSchemeHttp || !IsLoopbackHost(requested) || !string.IsNullOrEmpty(requested.Fragment))
        {
            return false;
        }

        foreach (var registered in client.RedirectUris)
        {
            if (Uri.TryCreate(registered, UriKind.Absolute, out var candidate) && candidate.Scheme == Uri.UriSchemeHttp && IsLoopbackHost(candidate)
                && string.Equals(candidate.Host, requested.Host, StringComparison.OrdinalIgnoreCase)
                && string.Equals(candidate.PathAndQuery, requested.PathAndQuery, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsLoopbackHost(Uri uri) => uri.Host is "127.0.0.1" or "[::1]" or "localhost";

    private static string AppendQuery(string uri, IEnumerable<(string Name, string? Value)> parameters)
    {
        var pairs = string.Join('&', parameters.Where(p => p.Value is not null).Select(p => Uri.EscapeDataString(p.Name) + "=" + Uri.EscapeDataString(p.Value!)));
        return uri + (uri.Contains('?', StringComparison.Ordinal) ? "&" : "?") + pairs;
    }
}

/// <summary>Authentication context class values Ema asserts in <c>acr</c>.</summary>
public static class AuthenticationContextClasses
{
    /// <summary>Password only.</summary>
    public const string Password = "urn:ema:acr:pwd";

    /// <summary>Password and a second factor.</summary>
    public const string MultiFactor = "urn:ema:acr:mfa";
}
