using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Ema.Protocol;
using Ema.Tokens.Jose;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ema.Tokens.Keys;

/// <summary>Where and how often an <see cref="HttpJwksKeySource"/> fetches one issuer's keys.</summary>
public sealed record HttpJwksKeySourceOptions
{
    /// <summary>The issuer whose keys these are; required when <see cref="MetadataUri"/> is used (its <c>issuer</c> must match exactly).</summary>
    public string? Issuer { get; init; }

    /// <summary>JWKS location. Either this or <see cref="MetadataUri"/>.</summary>
    public Uri? JwksUri { get; init; }

    /// <summary>RFC 8414 / OIDC discovery document whose <c>jwks_uri</c> names the JWKS.</summary>
    public Uri? MetadataUri { get; init; }

    /// <summary>How long fetched keys are used before a routine refresh.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Minimum time between fetches of this issuer's keys caused by an unknown <c>kid</c> or a failed fetch. Tokens
    /// with random <c>kid</c>s therefore cause at most one fetch per interval (no fetch storm).
    /// </summary>
    public TimeSpan MinimumRefetchInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Time allowed for one fetch (metadata and JWKS together).</summary>
    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest document accepted.</summary>
    public int MaxDocumentBytes { get; init; } = 256 * 1024;

    /// <summary>Development switch: allow plain http to loopback addresses only (decision 22).</summary>
    public bool AllowHttpOnLoopback { get; init; }
}

/// <summary>
/// One trusted issuer's keys, fetched over https from its <c>jwks_uri</c> (directly or through its metadata), cached,
/// and refreshed on an unknown <c>kid</c> at most once per <see cref="HttpJwksKeySourceOptions.MinimumRefetchInterval"/>
/// (RFC 8725 §3.10; EMA security §7.4.1: rotation by <c>kid</c> without falling back to untrusted keys).
/// </summary>
/// <remarks>
/// Each issuer has its own instance and therefore its own refetch budget: one issuer's traffic can never starve
/// another's key refresh. Concurrent refreshes collapse into one request. When a fetch fails the last good keys stay
/// in use; no key from anywhere else is ever consulted.
/// </remarks>
public sealed class HttpJwksKeySource : IIssuerKeySource, IDisposable
{
    private readonly HttpClient _http;
    private readonly HttpJwksKeySourceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private Snapshot _snapshot = Snapshot.Empty;

    /// <summary>Creates the source. The caller owns <paramref name="http"/>.</summary>
    public HttpJwksKeySource(HttpClient http, HttpJwksKeySourceOptions options, TimeProvider time, ILogger<HttpJwksKeySource>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        if ((options.JwksUri is null) == (options.MetadataUri is null))
        {
            throw new ArgumentException("Configure exactly one of JwksUri and MetadataUri.", nameof(options));
        }

        if (options.MetadataUri is not null && string.IsNullOrEmpty(options.Issuer))
        {
            throw new ArgumentException("Issuer is required with MetadataUri: the metadata's issuer must match it.", nameof(options));
        }

        foreach (var uri in new[] { options.JwksUri, options.MetadataUri })
        {
            if (uri is not null && !IsAllowedUri(uri, options.AllowHttpOnLoopback))
            {
                throw new ArgumentException($"Key locations must be absolute https URIs: {uri}", nameof(options));
            }
        }

        _http = http;
        _options = options;
        _time = time;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Number of HTTP fetches of the JWKS made so far (for monitoring and tests).</summary>
    public int FetchCount => Volatile.Read(ref _fetchCount);

    private int _fetchCount;

    /// <inheritdoc />
    public async ValueTask<KeyLookupResult> FindKeyAsync(string? keyId, JwsAlgorithm algorithm, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        var snapshot = Volatile.Read(ref _snapshot);
        var now = _time.GetUtcNow();
        if (snapshot.FetchedAt is null || now - snapshot.FetchedAt.Value >= _options.RefreshInterval)
        {
            snapshot = await RefreshAsync(snapshot, onDemand: false, cancellationToken).ConfigureAwait(false);
        }

        var result = KeyLookupResult.Select(snapshot.Keys, keyId, algorithm);
        if (result.Status == KeyLookupStatus.NotFound && keyId is not null)
        {
            // An unknown kid may mean the issuer rotated: refetch, but only within the budget.
            snapshot = await RefreshAsync(snapshot, onDemand: true, cancellationToken).ConfigureAwait(false);
            result = KeyLookupResult.Select(snapshot.Keys, keyId, algorithm);
        }

        if (result.Status == KeyLookupStatus.NotFound && snapshot.Keys.Count == 0)
        {
            return new(null, KeyLookupStatus.Unavailable, snapshot.LastError ?? "no keys");
        }

        return result;
    }

    private async ValueTask<Snapshot> RefreshAsync(Snapshot seen, bool onDemand, CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = Volatile.Read(ref _snapshot);
            var now = _time.GetUtcNow();
            if (!ReferenceEquals(current, seen) && current.FetchedAt is not null && now - current.FetchedAt.Value < _options.RefreshInterval)
            {
                return current; // another caller refreshed while we waited
            }

            // Never hammer an issuer whose last fetch failed; and spend at most one unknown-kid refetch per interval.
            if ((current.LastFailureAt is { } failed && now - failed < _options.MinimumRefetchInterval)
                || (onDemand && current.LastOnDemandAt is { } asked && now - asked < _options.MinimumRefetchInterval))
            {
                return current; // budget spent: answer from what we have
            }

            // The fetch is shared by every waiting caller, so it runs on its own timeout, not on the cancellation of
            // whichever caller happened to start it: one aborted request must not count as an issuer failure.
            using var timeout = new CancellationTokenSource(_options.FetchTimeout, _time);
            var (keys, error) = await FetchAsync(timeout.Token).ConfigureAwait(false);
            var lastOnDemand = onDemand ? now : current.LastOnDemandAt;
            var next = error is null
                ? new Snapshot(keys, now, lastOnDemand, null, null)
                : current with { LastOnDemandAt = lastOnDemand, LastFailureAt = now, LastError = error };
            if (error is not null)
            {
                Log.JwksFetchFailed(_logger, _options.Issuer ?? _options.JwksUri?.AbsoluteUri ?? "?", error);
            }

            Volatile.Write(ref _snapshot, next);
            return next;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private async Task<(IReadOnlyList<VerificationKey> Keys, string? Error)> FetchAsync(CancellationToken cancellationToken)
    {
        try
        {
            var jwksUri = _options.JwksUri;
            if (jwksUri is null)
            {
                var metadataBytes = await GetAsync(_options.MetadataUri!, cancellationToken).ConfigureAwait(false);
                if (metadataBytes is null)
                {
                    return ([], "metadata fetch failed");
                }

                var metadata = JsonSerializer.Deserialize(metadataBytes, EmaJsonContext.Default.AuthorizationServerMetadata);

                // RFC 8414 §3.3: the issuer in the metadata MUST be identical to the one the metadata was fetched for.
                if (metadata is null || !string.Equals(metadata.Issuer, _options.Issuer, StringComparison.Ordinal))
                {
                    return ([], "metadata issuer does not match");
                }

                if (!Uri.TryCreate(metadata.JwksUri, UriKind.Absolute, out jwksUri) || !IsAllowedUri(jwksUri, _options.AllowHttpOnLoopback))
                {
                    return ([], "metadata jwks_uri is missing or not https");
                }
            }

            var bytes = await GetAsync(jwksUri, cancellationToken).ConfigureAwait(false);
            if (bytes is null)
            {
                return ([], "JWKS fetch failed");
            }

            Interlocked.Increment(ref _fetchCount);
            var parsed = JwksParser.Parse(bytes);
            return parsed.IsDocumentValid && parsed.Keys.Count > 0 ? (parsed.Keys, null) : ([], parsed.Debug ?? "JWKS has no usable keys");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Any failure (network, timeout, hostile content) is an issuer failure: recorded, budgeted, never thrown.
            return ([], ex.GetType().Name);
        }
    }

    private async Task<byte[]?> GetAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(MediaTypes.Json));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK || response.Content.Headers.ContentLength > _options.MaxDocumentBytes)
        {
            return null;
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new MemoryStream();
            var chunk = new byte[8192];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > _options.MaxDocumentBytes)
                {
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
    }

    internal static bool IsAllowedUri(Uri uri, bool allowHttpOnLoopback) =>
        uri.IsAbsoluteUri && (uri.Scheme == Uri.UriSchemeHttps || (allowHttpOnLoopback && uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback));

    /// <inheritdoc />
    public void Dispose() => _refreshLock.Dispose();

    private sealed record Snapshot(IReadOnlyList<VerificationKey> Keys, DateTimeOffset? FetchedAt, DateTimeOffset? LastOnDemandAt, DateTimeOffset? LastFailureAt, string? LastError)
    {
        public static readonly Snapshot Empty = new([], null, null, null, null);
    }
}
