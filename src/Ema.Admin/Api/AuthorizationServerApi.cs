using Ema.Server.Model;
using Ema.Server.Stores;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ema.Admin.Api;

/// <summary>A customer organization of the authorization server.</summary>
public sealed record TenantView(string Id, string Name);

/// <summary>A trusted enterprise IdP: where its keys come from (<see cref="KeySource"/>: metadata, jwks or inline), what it may use.</summary>
public sealed record TrustedIssuerView(string Issuer, string TenantId, string? IssuerTenant, string KeySource, string? KeyUrl, IReadOnlyList<string> Algorithms, IReadOnlyList<string>? AllowedClients, bool JitProvisioning, bool Enabled)
{
    public static TrustedIssuerView From(TrustedIssuerRegistration r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(r.Issuer, r.TenantId, r.IssuerTenant, r.MetadataUri is not null ? "metadata" : r.JwksUri is not null ? "jwks" : "inline", r.MetadataUri ?? r.JwksUri, r.AllowedAlgorithms, r.AllowedClientIds, r.JitProvisioning, r.Enabled);
    }
}

/// <summary>A client of the authorization server (never its secret hash).</summary>
public sealed record AuthorizationServerClientView(string ClientId, string Name, string AuthenticationMethod, bool Enabled, bool RequireDpop = false);

/// <summary>An MCP server the authorization server issues tokens for.</summary>
public sealed record AuthorizationServerResourceView(string Id, string Name, string Resource, IReadOnlyList<string> Scopes);

/// <summary>New tenant.</summary>
public sealed record CreateTenantRequest(string Id, string Name);

/// <summary>An issuer named in a body (its identifier is a URL).</summary>
public sealed record IssuerRequest(string Issuer);

/// <summary>The IdP tenant a trusted issuer's ID-JAGs must carry (null: any).</summary>
public sealed record IssuerTenantRequest(string Issuer, string? IssuerTenant);

/// <summary>Whether a client's ID-JAGs must be bound to a DPoP key.</summary>
public sealed record RequireDpopRequest(bool RequireDpop);

/// <summary>New authorization-server client (confidential; its secret is in the answer only).</summary>
public sealed record CreateAuthorizationServerClientRequest(string ClientId, string Name, string? Jwks = null, bool RequireDpop = false);

/// <summary>New authorization-server resource.</summary>
public sealed record CreateAuthorizationServerResourceRequest(string Id, string Name, string Resource, IReadOnlyList<string>? Scopes);

/// <summary>
/// The authorization server's settings in the admin API (<c>/as/…</c>), mapped only where the host runs that role: the
/// same <see cref="AuthorizationServerOperations"/> as <c>ema admin as …</c>, with the reads open to admins and the
/// changes behind the same filters as every other change (recent second factor, same origin).
/// </summary>
internal static class AuthorizationServerApi
{
    /// <summary>
    /// Whether this host runs the authorization-server role (its issuer registry is registered — the SQLite store alone
    /// is there for every role), asked without building anything.
    /// </summary>
    public static bool IsHosted(IServiceProvider services) =>
        services.GetService(typeof(Microsoft.Extensions.DependencyInjection.IServiceProviderIsService)) is Microsoft.Extensions.DependencyInjection.IServiceProviderIsService known
        && known.IsService(typeof(Ema.Server.AuthorizationServer.StoreTrustedIssuerRegistry));

    public static void MapReads(RouteGroupBuilder api)
    {
        var reads = api.MapGroup("/as");
        reads.MapGet("/tenants", async (IAuthorizationServerStore s, CancellationToken ct) =>
            (await s.ListTenantsAsync(ct).ConfigureAwait(false)).Select(t => new TenantView(t.Id, t.Name)).ToList()).WithName("ListTenants");
        reads.MapGet("/issuers", async (IAuthorizationServerStore s, CancellationToken ct) =>
            (await s.ListTrustedIssuersAsync(ct).ConfigureAwait(false)).Select(TrustedIssuerView.From).ToList()).WithName("ListTrustedIssuers");
        reads.MapGet("/clients", async (IAuthorizationServerStore s, CancellationToken ct) =>
            (await s.ListClientsAsync(ct).ConfigureAwait(false)).Select(c => new AuthorizationServerClientView(c.ClientId, c.Name, c.AuthenticationMethod, c.Enabled, c.RequireDpop)).ToList()).WithName("ListAuthorizationServerClients");
        reads.MapGet("/resources", async (IAuthorizationServerStore s, CancellationToken ct) =>
            (await s.ListResourcesAsync(ct).ConfigureAwait(false)).Select(r => new AuthorizationServerResourceView(r.Id, r.Name, r.Resource, [.. r.Scopes.Select(x => x.Name)])).ToList()).WithName("ListAuthorizationServerResources");
    }

    public static void MapChanges(RouteGroupBuilder changes)
    {
        var a = changes.MapGroup("/as");
        a.MapPost("/tenants", (CreateTenantRequest r, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.CreateTenantAsync(by, r.Id, r.Name, ct))).WithName("CreateTenant");
        a.MapPost("/issuers", (TrustIssuerInput r, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.TrustIssuerAsync(by, r, ct))).WithName("TrustIssuer");
        a.MapPost("/issuers/tenant", (IssuerTenantRequest r, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.SetIssuerTenantAsync(by, r.Issuer, r.IssuerTenant, ct))).WithName("SetAuthorizationServerIssuerTenant");
        a.MapPost("/clients/{clientId}/require-dpop", (string clientId, RequireDpopRequest r, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.SetClientRequireDpopAsync(by, clientId, r.RequireDpop, ct))).WithName("SetAuthorizationServerClientRequireDpop");
        a.MapPost("/issuers/disable", (IssuerRequest r, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.SetIssuerEnabledAsync(by, r.Issuer, enabled: false, ct))).WithName("DisableTrustedIssuer");
        a.MapPost("/issuers/enable", (IssuerRequest r, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.SetIssuerEnabledAsync(by, r.Issuer, enabled: true, ct))).WithName("EnableTrustedIssuer");
        a.MapPost("/clients", (CreateAuthorizationServerClientRequest r, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.CreateClientAsync(by, r.ClientId, r.Name, r.Jwks, r.RequireDpop, ct))).WithName("CreateAuthorizationServerClient");
        a.MapPost("/clients/{clientId}/disable", (string clientId, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.SetClientEnabledAsync(by, clientId, enabled: false, ct))).WithName("DisableAuthorizationServerClient");
        a.MapPost("/clients/{clientId}/enable", (string clientId, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.SetClientEnabledAsync(by, clientId, enabled: true, ct))).WithName("EnableAuthorizationServerClient");
        a.MapPost("/clients/{clientId}/rotate-secret", (string clientId, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.RotateClientSecretAsync(by, clientId, ct))).WithName("RotateAuthorizationServerClientSecret");
        a.MapPost("/clients/{clientId}/keys", (string clientId, ClientKeysRequest r, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.ReplaceClientKeysAsync(by, clientId, r.Jwks, ct))).WithName("ReplaceAuthorizationServerClientKeys");
        a.MapPost("/resources", (CreateAuthorizationServerResourceRequest r, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.CreateResourceAsync(by, r.Id, r.Name, r.Resource, r.Scopes ?? [], ct))).WithName("CreateAuthorizationServerResource");
        a.MapDelete("/resources/{id}", (string id, AuthorizationServerOperations o, HttpContext c, CancellationToken ct) =>
            AdminApiChanges.RunAsync(c, by => o.RemoveResourceAsync(by, id, ct))).WithName("RemoveAuthorizationServerResource");
    }
}
