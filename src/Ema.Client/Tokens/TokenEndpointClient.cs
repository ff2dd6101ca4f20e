using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ema.Protocol;

namespace Ema.Client.Tokens;

/// <summary>The outcome of one token-endpoint request: the parsed success body, or the RFC 6749 §5.2 error.</summary>
internal readonly record struct TokenEndpointResult<T>(T? Value, OAuthErrorResponse? Error, int Status)
    where T : class;

/// <summary>Posts form-encoded token requests with client authentication (RFC 6749 §2.3.1, §3.2).</summary>
internal sealed class TokenEndpointClient(HttpClient http, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public Task<TokenEndpointResult<T>> PostAsync<T>(string endpoint, IEnumerable<KeyValuePair<string, string>> parameters, ClientCredentials client, JsonTypeInfo<T> responseType, CancellationToken cancellationToken)
        where T : class => PostAsync(endpoint, parameters, client, responseType, null, cancellationToken);

    /// <summary>The same, with a DPoP proof for this request (RFC 9449 §5) when <paramref name="dpopProof"/> is given.</summary>
    public async Task<TokenEndpointResult<T>> PostAsync<T>(string endpoint, IEnumerable<KeyValuePair<string, string>> parameters, ClientCredentials client, JsonTypeInfo<T> responseType, string? dpopProof, CancellationToken cancellationToken)
        where T : class
    {
        using var request = Authenticated(endpoint, parameters, client);
        if (dpopProof is not null)
        {
            request.Headers.Add(HeaderValues.DpopHeader, dpopProof);
        }

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode
            ? new(Json(endpoint, response, () => JsonSerializer.Deserialize(body, responseType)) ?? throw new EmaProtocolException($"{endpoint} answered an empty body."), null, (int)response.StatusCode)
            : new(null, Error(endpoint, response, body), (int)response.StatusCode);
    }

    /// <summary>RFC 7009 §2.1: revokes <paramref name="token"/>; null when the server answered 200 (revoked, or unknown to it), else its error.</summary>
    public async Task<OAuthErrorResponse?> RevokeAsync(string endpoint, string token, string tokenTypeHint, ClientCredentials client, CancellationToken cancellationToken)
    {
        using var request = Authenticated(endpoint, [new(OAuthParameters.Token, token), new(OAuthParameters.TokenTypeHint, tokenTypeHint)], client);
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return null;
        }

        return Error(endpoint, response, await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
    }

    // RFC 6749 §5.2: the error body; an empty one stands for server_error.
    private static OAuthErrorResponse Error(string endpoint, HttpResponseMessage response, byte[] body) =>
        (body.Length > 0 ? Json(endpoint, response, () => JsonSerializer.Deserialize(body, EmaJsonContext.Default.OAuthErrorResponse)) : null)
        ?? new OAuthErrorResponse { Error = ErrorCodes.ServerError, ErrorDescription = $"HTTP {(int)response.StatusCode} without an error body" };

    private static T? Json<T>(string endpoint, HttpResponseMessage response, Func<T?> parse)
    {
        try
        {
            return parse();
        }
        catch (JsonException ex)
        {
            throw new EmaProtocolException($"{endpoint} answered HTTP {(int)response.StatusCode} with a body that is not the JSON RFC 6749 §5 requires.", ex);
        }
    }

    // The client authenticates by its registered method, at the token and revocation endpoints alike.
    private HttpRequestMessage Authenticated(string endpoint, IEnumerable<KeyValuePair<string, string>> parameters, ClientCredentials client)
    {
        var form = new List<KeyValuePair<string, string>>(parameters);
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint);
        switch (client.Method)
        {
            case ClientAuthenticationMethods.ClientSecretBasic:
                // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
                var pair = Uri.EscapeDataString(client.ClientId) + ":" + Uri.EscapeDataString(client.ClientSecret ?? string.Empty);
                request.Headers.Authorization = new AuthenticationHeaderValue(HeaderValues.BasicScheme, Convert.ToBase64String(Encoding.UTF8.GetBytes(pair)));
                break;
            case ClientAuthenticationMethods.ClientSecretPost:
                form.Add(new(OAuthParameters.ClientId, client.ClientId));
                form.Add(new(OAuthParameters.ClientSecret, client.ClientSecret ?? string.Empty));
                break;
            case ClientAuthenticationMethods.PrivateKeyJwt:
                // RFC 7523 §2.2: the signed assertion instead of a secret, its aud the endpoint it goes to.
                form.Add(new(OAuthParameters.ClientAssertionType, ClientAssertionTypes.JwtBearer));
                form.Add(new(OAuthParameters.ClientAssertion, ClientAssertion.Create(client, endpoint, _time)));
                break;
            default:
                form.Add(new(OAuthParameters.ClientId, client.ClientId)); // public client (RFC 6749 §3.2.1)
                break;
        }

        request.Content = new FormUrlEncodedContent(form);
        request.Headers.Accept.ParseAdd(MediaTypes.Json);
        return request;
    }
}
