using System.Net.Http.Headers;
using System.Text;
using Ema.Protocol;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;

namespace Ema.Server.Clients;

/// <summary>The client behind a token request.</summary>
/// <param name="Client">The registered client.</param>
/// <param name="Authenticated">True when it proved possession of its secret; false for a public client.</param>
/// <param name="Method">The method it used.</param>
public sealed record ClientIdentity(ClientApplication Client, bool Authenticated, string Method);

/// <summary>Result of client authentication.</summary>
public readonly record struct ClientAuthenticationResult(ClientIdentity? Identity, OAuthError? Error, bool BasicAttempted)
{
    public bool IsSuccess => Identity is not null;
}

/// <summary>
/// Authenticates the client of a token request (RFC 6749 §2.3.1): HTTP Basic or credentials in the body, never both
/// (§2.3: "MUST NOT use more than one authentication method"), only the method the client registered, secrets compared
/// as SHA-256 hashes in constant time (decision 15). Public clients are identified, not authenticated.
/// </summary>
public sealed class ClientAuthenticator
{
    private readonly IClientDirectory _applications;
    private readonly ClientAssertionVerifier? _assertions;

    /// <summary>A client directory, and — for <c>private_key_jwt</c> — the assertion checks (none: assertions refused).</summary>
    public ClientAuthenticator(IClientDirectory applications, ClientAssertionVerifier? assertions = null)
    {
        ArgumentNullException.ThrowIfNull(applications);
        _applications = applications;
        _assertions = assertions;
    }

    /// <summary>Authenticates from the <c>Authorization</c> header (if any) and the body parameters.</summary>
    public async Task<ClientAuthenticationResult> AuthenticateAsync(string? authorizationHeader, TokenRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var basic = authorizationHeader is not null;
        string? clientId;
        string? secret;
        string method;

        if (request.ClientAssertion is not null || request.ClientAssertionType is not null)
        {
            return await AuthenticateWithAssertionAsync(basic, request, cancellationToken).ConfigureAwait(false);
        }

        if (basic)
        {
            if (request.ClientSecret is not null)
            {
                return Fail(OAuthError.From(ErrorIds.ClientAuthenticationMultipleMethods), basic);
            }

            if (!TryParseBasic(authorizationHeader!, out clientId, out secret))
            {
                return Fail(OAuthError.From(ErrorIds.ClientAuthenticationMalformed), basic);
            }

            if (request.ClientId is not null && !string.Equals(request.ClientId, clientId, StringComparison.Ordinal))
            {
                return Fail(OAuthError.From(ErrorIds.ClientAuthenticationMultipleMethods, "client_id in the body differs from the Basic credentials"), basic);
            }

            method = ClientAuthenticationMethods.ClientSecretBasic;
        }
        else if (request.ClientSecret is not null)
        {
            clientId = request.ClientId;
            secret = request.ClientSecret;
            method = ClientAuthenticationMethods.ClientSecretPost;
            if (clientId is null)
            {
                return Fail(OAuthError.From(ErrorIds.ClientAuthenticationMalformed, "client_secret without client_id"), basic);
            }
        }
        else
        {
            clientId = request.ClientId;
            secret = null;
            method = ClientAuthenticationMethods.None;
            if (clientId is null)
            {
                return Fail(OAuthError.From(ErrorIds.ClientAuthenticationRequired), basic);
            }
        }

        var client = await _applications.FindClientAsync(clientId!, cancellationToken).ConfigureAwait(false);
        if (client is null)
        {
            // Same answer as a wrong secret: do not reveal which client ids exist.
            return Fail(OAuthError.From(ErrorIds.ClientUnknown, $"client_id={clientId}"), basic);
        }

        if (!client.Enabled)
        {
            return Fail(OAuthError.From(ErrorIds.ClientDisabled, $"client_id={clientId}"), basic);
        }

        // ADR 0003: a client registered for a secret may present it by either secret method (the MCP SDKs send it in
        // the body at the IdP, the conformance suite in a Basic header at the AS); public and secret clients never mix.
        if (!string.Equals(client.AuthenticationMethod, method, StringComparison.Ordinal) && !(IsSecretMethod(client.AuthenticationMethod) && IsSecretMethod(method)))
        {
            return method == ClientAuthenticationMethods.None
                ? Fail(OAuthError.From(ErrorIds.ClientAuthenticationRequired, $"client_id={clientId} registered {client.AuthenticationMethod}"), basic)
                : Fail(OAuthError.From(ErrorIds.ClientAuthenticationMethodMismatch, $"client_id={clientId} used {method}, registered {client.AuthenticationMethod}"), basic);
        }

        if (method == ClientAuthenticationMethods.None)
        {
            return new(new ClientIdentity(client, Authenticated: false, method), null, basic);
        }

        return SecretHasher.Verify(secret!, client.SecretHash)
            ? new(new ClientIdentity(client, Authenticated: true, method), null, basic)
            : Fail(OAuthError.From(ErrorIds.ClientSecretInvalid, $"client_id={clientId}"), basic);
    }

    // RFC 7523 §2.2 (private_key_jwt; decisions 13, 14): the assertion is the only credential — with a Basic header or a
    // secret besides it the request used two methods (RFC 6749 §2.3). client_id, when sent too, must be the assertion's.
    private async Task<ClientAuthenticationResult> AuthenticateWithAssertionAsync(bool basic, TokenRequest request, CancellationToken cancellationToken)
    {
        if (basic || request.ClientSecret is not null)
        {
            return Fail(OAuthError.From(ErrorIds.ClientAuthenticationMultipleMethods, "client_assertion with another credential"), basic);
        }

        if (request.ClientAssertionType != ClientAssertionTypes.JwtBearer || string.IsNullOrEmpty(request.ClientAssertion))
        {
            return Fail(OAuthError.From(ErrorIds.ClientAuthenticationMalformed, $"client_assertion_type must be {ClientAssertionTypes.JwtBearer}, with a client_assertion"), basic);
        }

        if (_assertions is null)
        {
            return Fail(OAuthError.From(ErrorIds.ClientAuthenticationMethodMismatch, "private_key_jwt is not enabled at this endpoint"), basic);
        }

        var assertion = Ema.Tokens.Jose.JwsReader.Read(request.ClientAssertion); // read once: for its iss, then verified
        var clientId = assertion.Token?.Payload.Issuer;
        if (clientId is null || (request.ClientId is not null && request.ClientId != clientId))
        {
            return Fail(OAuthError.From(ErrorIds.ClientAssertionInvalid, "iss missing, or not the client_id sent"), basic);
        }

        var client = await _applications.FindClientAsync(clientId, cancellationToken).ConfigureAwait(false);
        if (client is null)
        {
            return Fail(OAuthError.From(ErrorIds.ClientUnknown, $"client_id={DebugText.Untrusted(clientId)}"), basic);
        }

        if (!client.Enabled)
        {
            return Fail(OAuthError.From(ErrorIds.ClientDisabled, $"client_id={DebugText.Untrusted(clientId)}"), basic);
        }

        if (client.AuthenticationMethod != ClientAuthenticationMethods.PrivateKeyJwt)
        {
            return Fail(OAuthError.From(ErrorIds.ClientAuthenticationMethodMismatch, $"client_id={DebugText.Untrusted(clientId)} used {ClientAuthenticationMethods.PrivateKeyJwt}, registered {client.AuthenticationMethod}"), basic);
        }

        var error = await _assertions.VerifyAsync(assertion, client, cancellationToken).ConfigureAwait(false);
        return error is null
            ? new(new ClientIdentity(client, Authenticated: true, ClientAuthenticationMethods.PrivateKeyJwt), null, basic)
            : Fail(error, basic);
    }

    // RFC 6749 §2.3.1: client id and secret are form-urlencoded, joined by ':', then base64-encoded.
    /// <summary>The client id a request claims — in the body, else in its Basic credentials — for the record of a failed authentication.</summary>
    public static string? ClaimedClientId(string? authorizationHeader, TokenRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.ClientId
            ?? (authorizationHeader is not null && TryParseBasic(authorizationHeader, out var basicId, out _) ? basicId : null)
            ?? (request.ClientAssertion is { } assertion ? ClientAssertionVerifier.ClaimedClientId(assertion) : null);
    }

    internal static bool TryParseBasic(string header, out string? clientId, out string? secret)
    {
        clientId = secret = null;
        if (!AuthenticationHeaderValue.TryParse(header, out var value)
            || !string.Equals(value.Scheme, HeaderValues.BasicScheme, StringComparison.OrdinalIgnoreCase)
            || string.IsNullOrEmpty(value.Parameter))
        {
            return false;
        }

        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, true).GetString(Convert.FromBase64String(value.Parameter));
        }
        catch (Exception ex) when (ex is FormatException or DecoderFallbackException)
        {
            return false;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return false;
        }

        try
        {
            clientId = Uri.UnescapeDataString(decoded[..colon].Replace('+', ' '));
            secret = Uri.UnescapeDataString(decoded[(colon + 1)..].Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return false;
        }

        return clientId.Length > 0 && secret.Length > 0;
    }

    private static bool IsSecretMethod(string method) =>
        method is ClientAuthenticationMethods.ClientSecretBasic or ClientAuthenticationMethods.ClientSecretPost;

    private static ClientAuthenticationResult Fail(OAuthError error, bool basic) => new(null, error, basic);
}
