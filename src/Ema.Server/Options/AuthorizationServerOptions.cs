using Microsoft.Extensions.Options;

namespace Ema.Server.Options;

/// <summary>Options of the authorization-server role (configuration section <c>Ema:AuthorizationServer</c>).</summary>
public sealed class AuthorizationServerOptions
{
    public const string Section = "Ema:AuthorizationServer";

    /// <summary>Issuer identifier: the only acceptable ID-JAG <c>aud</c> (https, no query, fragment or trailing slash).</summary>
    public string Issuer { get; set; } = string.Empty;

    /// <summary>Access-token lifetime (decision 5: 10 minutes; short, because renewal through the IdP is silent).</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Signing algorithm for new keys.</summary>
    public string SigningAlgorithm { get; set; } = Ema.Protocol.SecurityAlgorithms.EcdsaSha256;

    /// <summary>How long a trusted issuer's registration (and so its key source) is reused before it is read again.</summary>
    public TimeSpan IssuerRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a trusted issuer's fetched keys are used before they are fetched again (an unknown <c>kid</c> fetches
    /// sooner): a key the issuer removes from its JWKS — a compromised one — stops being accepted within this time.
    /// </summary>
    public TimeSpan IssuerKeysRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Development switch: http issuer and JWKS locations on loopback only (decision 22).</summary>
    public bool AllowHttpOnLoopback { get; set; }
}

/// <summary>Validates <see cref="AuthorizationServerOptions"/> at start-up.</summary>
public sealed class AuthorizationServerOptionsValidator : IValidateOptions<AuthorizationServerOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthorizationServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!Uri.TryCreate(options.Issuer, UriKind.Absolute, out var issuer) || !string.IsNullOrEmpty(issuer.Query) || !string.IsNullOrEmpty(issuer.Fragment) || options.Issuer.EndsWith('/'))
        {
            failures.Add($"{nameof(options.Issuer)} must be an absolute URL without query, fragment or trailing '/' (got '{options.Issuer}').");
        }
        else if (issuer.Scheme != Uri.UriSchemeHttps && !(options.AllowHttpOnLoopback && issuer.Scheme == Uri.UriSchemeHttp && issuer.IsLoopback))
        {
            failures.Add($"{nameof(options.Issuer)} must use https.");
        }

        if (options.AccessTokenLifetime <= TimeSpan.Zero || options.AccessTokenLifetime > TimeSpan.FromHours(24))
        {
            failures.Add($"{nameof(options.AccessTokenLifetime)} must be between 1 s and 24 h.");
        }

        if (options.IssuerKeysRefreshInterval < TimeSpan.FromSeconds(10) || options.IssuerKeysRefreshInterval > TimeSpan.FromHours(24))
        {
            failures.Add($"{nameof(options.IssuerKeysRefreshInterval)} must be between 10 s and 24 h.");
        }

        if (!Ema.Tokens.Jose.JwsAlgorithm.TryGet(options.SigningAlgorithm, out _))
        {
            failures.Add($"{nameof(options.SigningAlgorithm)} '{options.SigningAlgorithm}' is not a supported asymmetric algorithm.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
