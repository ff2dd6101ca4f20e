using Microsoft.Extensions.Options;

namespace Ema.Server.Options;

/// <summary>Options of the enterprise IdP role (configuration section <c>Ema:IdentityProvider</c>).</summary>
public sealed class IdentityProviderOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Ema:IdentityProvider";

    /// <summary>Issuer identifier: an https URL without query or fragment (OIDC Discovery §3).</summary>
    public string Issuer { get; set; } = string.Empty;

    /// <summary>ID-JAG lifetime (decision 5).</summary>
    public TimeSpan IdJagLifetime { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>ID token lifetime.</summary>
    public TimeSpan IdTokenLifetime { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>Lifetime of the IdP's own access tokens (userinfo, catalog).</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>Refresh-token lifetime (each rotation starts a new one, within the session).</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Authorization-code lifetime (RFC 6749 §4.1.2: short; 10 minutes at most).</summary>
    public TimeSpan AuthorizationCodeLifetime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a sign-in page stays valid.</summary>
    public TimeSpan PendingAuthorizationLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>IdP session lifetime (the session cookie).</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>Failed sign-ins before the account is locked.</summary>
    public int LockoutThreshold { get; set; } = 5;

    /// <summary>
    /// Sign-in attempts (password checks) allowed per client address per minute, whatever the usernames: the defence
    /// against password spraying that per-user lockout is not. 0 turns it off.
    /// </summary>
    public int SignInAttemptsPerAddressPerMinute { get; set; } = 60;

    /// <summary>
    /// When a client asks for MFA and the user has no authenticator yet, let them enrol one on the sign-in page right
    /// after their password (RFC 6238 TOTP). Off: only an admin enrols (<c>ema admin users mfa-enroll</c>).
    /// </summary>
    public bool MfaSelfEnrollment { get; set; } = true;

    /// <summary>
    /// Roles whose holders are never offered self-enrolment: for them, whoever knew the password first would own the
    /// second factor. An administrator enrols them (<c>ema admin users mfa-enroll</c>).
    /// </summary>
    public IList<string> MfaSelfEnrollmentExcludedRoles { get; } = ["admin"];

    /// <summary>How long the enrolment step may take after the password was accepted.</summary>
    public TimeSpan MfaEnrollmentLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>First lockout; each further failure while locked doubles it, up to <see cref="MaxLockoutDuration"/>.</summary>
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Longest lockout.</summary>
    public TimeSpan MaxLockoutDuration { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Development switch: allow an http issuer on a loopback address (decision 22).</summary>
    public bool AllowHttpOnLoopback { get; set; }

    /// <summary>How many verified ID tokens are remembered for token exchange (0 turns the cache off).</summary>
    public int VerifiedSubjectTokenCacheSize { get; set; } = 10_000;

    /// <summary>A YAML policy file (policy as code): when set, the rule engine decides instead of entitlements v1.
    /// Read and validated at start-up; a file with errors stops the start with each error and its line.</summary>
    public string? PolicyFile { get; set; }

    /// <summary>Signing algorithm for new keys (ES256 default; RS256 or PS256 may be configured).</summary>
    public string SigningAlgorithm { get; set; } = Ema.Protocol.SecurityAlgorithms.EcdsaSha256;
}

/// <summary>Validates <see cref="IdentityProviderOptions"/> at start-up, reporting every problem at once (style rule 4).</summary>
public sealed class IdentityProviderOptionsValidator : IValidateOptions<IdentityProviderOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, IdentityProviderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!Uri.TryCreate(options.Issuer, UriKind.Absolute, out var issuer) || !string.IsNullOrEmpty(issuer.Query) || !string.IsNullOrEmpty(issuer.Fragment))
        {
            failures.Add($"{nameof(options.Issuer)} must be an absolute URL without query or fragment (got '{options.Issuer}').");
        }
        else if (issuer.Scheme != Uri.UriSchemeHttps && !(options.AllowHttpOnLoopback && issuer.Scheme == Uri.UriSchemeHttp && issuer.IsLoopback))
        {
            failures.Add($"{nameof(options.Issuer)} must use https (http is allowed only for loopback with {nameof(options.AllowHttpOnLoopback)}).");
        }
        else if (options.Issuer.EndsWith('/'))
        {
            failures.Add($"{nameof(options.Issuer)} must not end with '/'.");
        }

        if (options.IdJagLifetime <= TimeSpan.Zero || options.IdJagLifetime > Ema.Tokens.IdJag.IdJagDescriptor.MaxLifetime)
        {
            failures.Add($"{nameof(options.IdJagLifetime)} must be between 1 s and 600 s (decision 5).");
        }

        if (options.AuthorizationCodeLifetime <= TimeSpan.Zero || options.AuthorizationCodeLifetime > TimeSpan.FromMinutes(10))
        {
            failures.Add($"{nameof(options.AuthorizationCodeLifetime)} must be between 1 s and 10 minutes (RFC 6749 §4.1.2).");
        }

        foreach (var (value, label) in new[] { (options.IdTokenLifetime, nameof(options.IdTokenLifetime)), (options.AccessTokenLifetime, nameof(options.AccessTokenLifetime)), (options.RefreshTokenLifetime, nameof(options.RefreshTokenLifetime)), (options.SessionLifetime, nameof(options.SessionLifetime)), (options.PendingAuthorizationLifetime, nameof(options.PendingAuthorizationLifetime)) })
        {
            if (value <= TimeSpan.Zero)
            {
                failures.Add($"{label} must be positive.");
            }
        }

        if (!string.IsNullOrEmpty(options.PolicyFile))
        {
            if (!File.Exists(options.PolicyFile))
            {
                failures.Add($"{nameof(options.PolicyFile)} '{options.PolicyFile}' does not exist.");
            }
            else
            {
                var (_, errors) = Policy.PolicyYaml.Parse(File.ReadAllText(options.PolicyFile));
                failures.AddRange(errors.Select(e => $"{nameof(options.PolicyFile)} {options.PolicyFile} {e}"));
            }
        }

        if (options.LockoutThreshold < 1)
        {
            failures.Add($"{nameof(options.LockoutThreshold)} must be at least 1.");
        }

        if (options.SignInAttemptsPerAddressPerMinute < 0)
        {
            failures.Add($"{nameof(options.SignInAttemptsPerAddressPerMinute)} must be 0 (off) or more.");
        }

        if (!Ema.Tokens.Jose.JwsAlgorithm.TryGet(options.SigningAlgorithm, out _))
        {
            failures.Add($"{nameof(options.SigningAlgorithm)} '{options.SigningAlgorithm}' is not a supported asymmetric algorithm.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
