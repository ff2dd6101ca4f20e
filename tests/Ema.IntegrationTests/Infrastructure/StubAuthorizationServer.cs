using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Ema.Protocol;
using Ema.Tokens.IdJag;
using Ema.Tokens.Issuers;
using Ema.Tokens.Keys;
using Ema.Tokens.Replay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Ema.IntegrationTests.Infrastructure;

/// <summary>
/// A minimal resource authorization server for the leg-1 interop tests: it serves RFC 8414 metadata and redeems
/// ID-JAGs with <see cref="IdJagValidator"/> (trusting Ema's IdP through its JWKS over https) so an independent client
/// can complete its flow. It records what it validated. Ema's real authorization server is the [3 of 5] issue.
/// </summary>
public sealed class StubAuthorizationServer : IAsyncDisposable
{
    public const string ClientSecret = "stub-as-secret-123456";
    private readonly WebApplication _app;

    private StubAuthorizationServer(WebApplication app) => _app = app;

    public ConcurrentQueue<ValidatedIdJag> Redeemed { get; } = new();

    public static async Task<StubAuthorizationServer> StartAsync(EmaServerFixture ema)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, ema.InteropPort, l => l.UseHttps(X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(ema.DataDirectory, "tls", "server.pfx"), null))));
        var app = builder.Build();
        var stub = new StubAuthorizationServer(app);
        var keys = new HttpJwksKeySource(TrustedHttp.Client(ema.Ca), new HttpJwksKeySourceOptions { MetadataUri = new Uri(ema.Issuer + "/.well-known/openid-configuration"), Issuer = ema.Issuer }, TimeProvider.System);
        var validator = new IdJagValidator(new InMemoryTrustedIssuerRegistry([new TrustedIssuer { Issuer = ema.Issuer, Keys = keys }]), new InMemoryReplayCache(TimeProvider.System), TimeProvider.System);

        var metadata = new AuthorizationServerMetadata
        {
            Issuer = ema.InteropAsIssuer,
            TokenEndpoint = ema.InteropAsIssuer + "/token",
            GrantTypesSupported = [GrantTypes.JwtBearer],
            TokenEndpointAuthMethodsSupported = [ClientAuthenticationMethods.ClientSecretPost, ClientAuthenticationMethods.ClientSecretBasic],
            AuthorizationGrantProfilesSupported = [GrantProfiles.IdJag],
        };
        app.MapGet("/as/.well-known/oauth-authorization-server", () => Results.Json(metadata, EmaJsonContext.Default.AuthorizationServerMetadata));
        app.MapGet("/.well-known/oauth-authorization-server/as", () => Results.Json(metadata, EmaJsonContext.Default.AuthorizationServerMetadata));
        app.MapPost("/as/token", async (HttpContext ctx) =>
        {
            var form = await ctx.Request.ReadFormAsync();
            var basic = ctx.Request.Headers.Authorization.ToString();
            var clientId = form["client_id"].ToString();
            var secret = form["client_secret"].ToString();
            if (basic.StartsWith("Basic ", StringComparison.Ordinal))
            {
                var pair = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(basic[6..])).Split(':', 2);
                (clientId, secret) = (Uri.UnescapeDataString(pair[0]), Uri.UnescapeDataString(pair[1]));
            }

            if (secret != ClientSecret)
            {
                return Results.Json(new OAuthErrorResponse { Error = ErrorCodes.InvalidClient }, EmaJsonContext.Default.OAuthErrorResponse, statusCode: 401);
            }

            var result = await validator.ValidateAsync(new IdJagValidationRequest { Assertion = form["assertion"].ToString(), AuthenticatedClientId = clientId, AuthorizationServerIssuer = ema.InteropAsIssuer, ServedResources = [ema.InteropResource] }, ctx.RequestAborted);
            if (!result.IsValid)
            {
                return Results.Json(result.Error!.ToResponse(), EmaJsonContext.Default.OAuthErrorResponse, statusCode: 400);
            }

            stub.Redeemed.Enqueue(result.Value!);
            return Results.Json(new AccessTokenResponse { AccessToken = "stub-access-token-" + result.Value!.JwtId, ExpiresIn = 300, Scope = string.Join(' ', result.Value.Scopes) }, EmaJsonContext.Default.AccessTokenResponse);
        });
        await app.StartAsync();
        return stub;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
