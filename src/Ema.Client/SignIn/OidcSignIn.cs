using System.Security.Cryptography;
using System.Text;
using Ema.Client.Discovery;
using Ema.Client.Session;
using Ema.Client.Tokens;
using Ema.Protocol;

namespace Ema.Client.SignIn;

/// <summary>A step-up demand from the IdP (ID-JAG draft §8.2: <c>insufficient_user_authentication</c>).</summary>
/// <param name="MaxAge">Seconds since authentication the IdP accepts (<c>max_age</c>), if it said.</param>
/// <param name="AcrValues">Authentication context classes it asks for (<c>acr_values</c>), if it said.</param>
public sealed record StepUpRequest(int? MaxAge, string? AcrValues);

/// <summary>
/// OpenID Connect sign-in for a native client: authorization code with PKCE S256, <c>state</c> and <c>nonce</c>
/// checked, a loopback redirect (RFC 8252 §7.3), and renewal with the refresh token (spec §2(a)1–3).
/// </summary>
internal sealed class OidcSignIn(HttpClient http, EmaClientOptions options, MetadataDiscovery discovery, TimeProvider time)
{
    private readonly TokenEndpointClient _tokens = new(http, time);

    /// <summary>Runs the browser sign-in; with <paramref name="stepUp"/>, asks for a fresh or stronger authentication.</summary>
    public async Task<EnterpriseSession> SignInAsync(IBrowser browser, StepUpRequest? stepUp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(browser);
        var idp = await discovery.DiscoverServerAsync(options.IdentityProvider, cancellationToken).ConfigureAwait(false);
        if (idp.AuthorizationEndpoint is null || idp.TokenEndpoint is null || !options.IsAcceptableUrl(idp.AuthorizationEndpoint))
        {
            throw new EmaProtocolException($"{options.IdentityProvider} has no usable authorization or token endpoint.");
        }

        var client = options.IdentityProviderClient!;
        var verifier = Pkce.NewVerifier();
        var state = Pkce.RandomValue(16);
        var nonce = Pkce.RandomValue(16);
        using var listener = new LoopbackRedirectListener();
        var query = new List<KeyValuePair<string, string>>
        {
            new(OAuthParameters.ResponseType, ResponseTypes.Code),
            new(OAuthParameters.ClientId, client.ClientId),
            new(OAuthParameters.RedirectUri, listener.RedirectUri),
            new(OAuthParameters.Scope, options.SignInScope),
            new(OAuthParameters.State, state),
            new(OAuthParameters.Nonce, nonce),
            new(OAuthParameters.CodeChallenge, Pkce.Challenge(verifier)),
            new(OAuthParameters.CodeChallengeMethod, CodeChallengeMethods.S256),
        };
        if (stepUp?.MaxAge is { } maxAge)
        {
            query.Add(new(OAuthParameters.MaxAge, maxAge.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        if (stepUp?.AcrValues is { Length: > 0 } acr)
        {
            query.Add(new(OAuthParameters.AcrValues, acr));
        }

        var separator = idp.AuthorizationEndpoint.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        var url = new Uri(idp.AuthorizationEndpoint + separator + string.Join("&", query.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value))));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.SignInTimeout);
        var wait = listener.WaitAsync(state, timeout.Token);
        await browser.OpenAsync(url, timeout.Token).ConfigureAwait(false);
        IReadOnlyDictionary<string, string> callback;
        try
        {
            callback = await wait.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new EmaSignInRequiredException($"Sign-in timed out after {options.SignInTimeout.TotalMinutes:0} minutes.");
        }

        // RFC 6749 §10.12 / spec §2(a)3: the state must be ours; RFC 9207: the issuer, when given, must be the IdP.
        if (!callback.TryGetValue(OAuthParameters.State, out var returnedState) || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(returnedState), Encoding.UTF8.GetBytes(state)))
        {
            throw new EmaSignInRequiredException("Sign-in failed: the response's state does not match the request (possible CSRF); nothing was stored.");
        }

        callback.TryGetValue(OAuthParameters.Issuer, out var iss);
        if ((iss is not null && iss != idp.Issuer) || (iss is null && idp.AuthorizationResponseIssParameterSupported == true))
        {
            // RFC 9207 §2.4: the issuer must match, and must be present when the IdP says it sends it.
            throw new EmaSignInRequiredException($"Sign-in failed: the response came from issuer '{iss ?? "(none)"}', not '{idp.Issuer}' (RFC 9207).");
        }

        if (callback.TryGetValue(OAuthParameters.Error, out var error))
        {
            throw new EmaSignInRequiredException($"Sign-in refused by the IdP: {callback.GetValueOrDefault(OAuthParameters.ErrorDescription) ?? error}.");
        }

        if (!callback.TryGetValue(OAuthParameters.Code, out var code))
        {
            throw new EmaSignInRequiredException("Sign-in failed: the IdP returned no authorization code.");
        }

        var result = await _tokens.PostAsync(
            idp.TokenEndpoint,
            [
                new(OAuthParameters.GrantType, GrantTypes.AuthorizationCode),
                new(OAuthParameters.Code, code),
                new(OAuthParameters.RedirectUri, listener.RedirectUri),
                new(OAuthParameters.CodeVerifier, verifier),
            ],
            client,
            EmaJsonContext.Default.AccessTokenResponse,
            cancellationToken).ConfigureAwait(false);
        if (result.Value is null)
        {
            throw new EmaSignInRequiredException($"Sign-in failed at the token endpoint: {result.Error!.ErrorDescription ?? result.Error.Error}.");
        }

        return ToSession(idp.Issuer, client.ClientId, result.Value, nonce, previous: null);
    }

    /// <summary>
    /// RFC 8628 device authorization grant, for machines without a browser: the user opens the verification URL on
    /// another device and enters the code; this polls the token endpoint at the IdP's interval (slowing down when told).
    /// </summary>
    public async Task<EnterpriseSession> SignInWithDeviceAsync(Func<DeviceAuthorizationResponse, Task> show, CancellationToken cancellationToken)
    {
        var idp = await discovery.DiscoverServerAsync(options.IdentityProvider, cancellationToken).ConfigureAwait(false);
        if (idp.DeviceAuthorizationEndpoint is not { } endpoint || !options.IsAcceptableUrl(endpoint))
        {
            throw new EmaProtocolException($"{options.IdentityProvider} does not offer the device authorization grant (RFC 8628); sign in with a browser.");
        }

        var client = options.IdentityProviderClient!;
        var started = await _tokens.PostAsync(endpoint, [new(OAuthParameters.Scope, options.SignInScope)], client, EmaJsonContext.Default.DeviceAuthorizationResponse, cancellationToken).ConfigureAwait(false);
        if (started.Value is not { } device)
        {
            throw new EmaSignInRequiredException($"The IdP refused to start a device sign-in: {started.Error!.ErrorDescription ?? started.Error.Error}.");
        }

        await show(device).ConfigureAwait(false);
        var interval = TimeSpan.FromSeconds(Math.Max(1, device.Interval ?? 5));
        var deadline = time.GetUtcNow().AddSeconds(device.ExpiresIn);
        while (time.GetUtcNow() < deadline)
        {
            await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
            var polled = await _tokens.PostAsync(
                idp.TokenEndpoint!,
                [new(OAuthParameters.GrantType, GrantTypes.DeviceCode), new(OAuthParameters.DeviceCode, device.DeviceCode)],
                client,
                EmaJsonContext.Default.AccessTokenResponse,
                cancellationToken).ConfigureAwait(false);
            if (polled.Value is { } tokens)
            {
                return ToSession(idp.Issuer, client.ClientId, tokens, expectedNonce: null, previous: null);
            }

            switch (polled.Error!.Error)
            {
                case ErrorCodes.AuthorizationPending:
                    continue;
                case ErrorCodes.SlowDown:
                    interval += TimeSpan.FromSeconds(5); // RFC 8628 §3.5
                    continue;
                case ErrorCodes.AccessDenied:
                    throw new EmaSignInRequiredException("The sign-in was declined on the other device.");
                default:
                    throw new EmaSignInRequiredException($"Device sign-in failed: {polled.Error.ErrorDescription ?? polled.Error.Error}.");
            }
        }

        throw new EmaSignInRequiredException("The device code expired before the sign-in was completed; run ema login --device again.");
    }

    /// <summary>Renews the ID token (and IdP access token) with the refresh token; null when the IdP says no.</summary>
    public async Task<EnterpriseSession?> RefreshAsync(EnterpriseSession session, CancellationToken cancellationToken)
    {
        if (session.RefreshToken is null)
        {
            return null;
        }

        var idp = await discovery.DiscoverServerAsync(options.IdentityProvider, cancellationToken).ConfigureAwait(false);
        var result = await _tokens.PostAsync(
            idp.TokenEndpoint!,
            [new(OAuthParameters.GrantType, GrantTypes.RefreshToken), new(OAuthParameters.RefreshToken, session.RefreshToken)],
            options.IdentityProviderClient!,
            EmaJsonContext.Default.AccessTokenResponse,
            cancellationToken).ConfigureAwait(false);
        return result.Value is { IdToken: not null } ok ? ToSession(idp.Issuer, session.ClientId, ok, expectedNonce: null, session) : null;
    }

    /// <summary>
    /// Revokes the session's refresh token at the IdP (RFC 7009), which ends every refresh token of its sign-in. Returns
    /// null when it is revoked, else why not (no refresh token, no revocation endpoint, the IdP's error).
    /// </summary>
    public async Task<string?> RevokeAsync(EnterpriseSession session, CancellationToken cancellationToken)
    {
        if (session.RefreshToken is null)
        {
            return "the session holds no refresh token";
        }

        var idp = await discovery.DiscoverServerAsync(options.IdentityProvider, cancellationToken).ConfigureAwait(false);
        if (idp.RevocationEndpoint is not { Length: > 0 } endpoint)
        {
            return "the IdP advertises no revocation endpoint";
        }

        if (!options.IsAcceptableUrl(endpoint))
        {
            // The refresh token (and a confidential client's secret) go over https only, as at the token endpoint.
            return $"the IdP's revocation endpoint {endpoint} is not https";
        }

        var error = await _tokens.RevokeAsync(endpoint, session.RefreshToken, TokenTypes.RefreshTokenHint, options.IdentityProviderClient!, cancellationToken).ConfigureAwait(false);
        return error is null ? null : $"the IdP refused: {error.Error}{(error.ErrorDescription is { } d ? " — " + d : string.Empty)}";
    }

    private EnterpriseSession ToSession(string issuer, string clientId, AccessTokenResponse response, string? expectedNonce, EnterpriseSession? previous)
    {
        if (response.IdToken is null)
        {
            throw new EmaProtocolException("The IdP's token response has no id_token (was the openid scope granted?).");
        }

        // OIDC Core §3.1.3.7: iss, aud, nonce and exp. The signature check is replaced by TLS server validation (step 6),
        // because the token came straight from the token endpoint.
        var claims = JwtPayload.Read(response.IdToken);
        var now = time.GetUtcNow();
        var expires = JwtPayload.Time(claims, JwtClaimNames.ExpiresAt);
        if (JwtPayload.String(claims, JwtClaimNames.Issuer) != issuer
            || !JwtPayload.AudienceContains(claims, clientId)
            || (expectedNonce is not null && JwtPayload.String(claims, JwtClaimNames.Nonce) != expectedNonce)
            || expires is null || expires <= now
            || JwtPayload.String(claims, JwtClaimNames.Subject) is not { Length: > 0 } subject)
        {
            throw new EmaProtocolException("The IdP's ID token failed the OIDC Core §3.1.3.7 checks (issuer, audience, nonce, expiry); nothing was stored.");
        }

        if (previous is not null && previous.Subject != subject)
        {
            throw new EmaProtocolException("The renewed ID token names another user; the session was not changed.");
        }

        return new EnterpriseSession
        {
            Issuer = issuer,
            ClientId = clientId,
            Subject = subject,
            Name = JwtPayload.String(claims, JwtClaimNames.Name) ?? previous?.Name,
            Username = JwtPayload.String(claims, JwtClaimNames.PreferredUsername) ?? previous?.Username,
            IdToken = response.IdToken,
            IdTokenExpiresAt = expires.Value,
            AccessToken = response.AccessToken,
            AccessTokenExpiresAt = response.ExpiresIn is not null ? now + AccessGrant.Lifetime(response.ExpiresIn) : null,
            RefreshToken = response.RefreshToken ?? previous?.RefreshToken,
            AuthTime = JwtPayload.Time(claims, JwtClaimNames.AuthTime) ?? previous?.AuthTime,
            SignedInAt = previous?.SignedInAt ?? now,
        };
    }

}
