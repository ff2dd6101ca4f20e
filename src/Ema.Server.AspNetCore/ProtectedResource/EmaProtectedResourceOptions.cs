using Ema.Tokens.Keys;
using Microsoft.AspNetCore.Authentication;

namespace Ema.Server.AspNetCore.ProtectedResource;

/// <summary>Options of an MCP server protected by Ema (RFC 9728 metadata and bearer validation).</summary>
public sealed class EmaProtectedResourceOptions : AuthenticationSchemeOptions
{
    /// <summary>This resource's identifier (RFC 9728 §2 <c>resource</c>): the only acceptable access-token <c>aud</c>.</summary>
    public string Resource { get; set; } = string.Empty;

    /// <summary>The authorization server's issuer: the only acceptable <c>iss</c>; listed in the metadata.</summary>
    public string AuthorizationServer { get; set; } = string.Empty;

    /// <summary>Scopes this resource uses (metadata <c>scopes_supported</c>, and the default challenge scope).</summary>
    public IReadOnlyList<string> ScopesSupported { get; set; } = [];

    /// <summary>Human-readable name (metadata <c>resource_name</c>).</summary>
    public string? ResourceName { get; set; }

    /// <summary>The authorization server's keys. Default: fetched through its RFC 8414 metadata with <see cref="Backchannel"/>.</summary>
    public IIssuerKeySource? Keys { get; set; }

    /// <summary>HTTP client for the authorization server's metadata and JWKS (required unless <see cref="Keys"/> is set).</summary>
    public HttpClient? Backchannel { get; set; }

    /// <summary>Validated tokens remembered (by SHA-256 of the token, until their expiry) so repeat calls skip the signature check.</summary>
    public int ValidatedTokenCacheSize { get; set; } = 10_000;

    /// <summary>Clock skew on access-token times.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Development switch: http for the authorization server on loopback.</summary>
    public bool AllowHttpOnLoopback { get; set; }

    /// <summary>
    /// Where the <c>jti</c> of DPoP proofs presented with bound tokens are remembered for their window (RFC 9449 §11.1).
    /// Default: in this process's memory — set a shared <see cref="Ema.Tokens.Replay.IReplayCache"/> when several instances
    /// serve this resource, so a proof cannot be replayed once per instance.
    /// </summary>
    public Ema.Tokens.Replay.IReplayCache? DpopReplayCache { get; set; }

    /// <summary>The RFC 9728 metadata URL for this resource (path-inserted form of <see cref="Resource"/>).</summary>
    public string ResourceMetadataUrl
    {
        get
        {
            var uri = new Uri(Resource);
            var path = uri.AbsolutePath == "/" ? string.Empty : uri.AbsolutePath.TrimEnd('/');
            return uri.GetLeftPart(UriPartial.Authority) + Ema.Protocol.WellKnownPaths.OAuthProtectedResource + path;
        }
    }
}

/// <summary>Names of the Ema resource-server scheme and claims.</summary>
public static class EmaProtectedResourceDefaults
{
    public const string AuthenticationScheme = "EmaBearer";

    /// <summary>Claim type carrying one granted scope per claim.</summary>
    public const string ScopeClaim = "scope";
}
