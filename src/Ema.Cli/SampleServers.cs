using Ema.Samples;
using Ema.Server.AspNetCore.Mcp;
using Ema.Server.AspNetCore.ProtectedResource;
using Ema.Server.AuthorizationServer;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;

namespace Ema.Cli;

/// <summary>Role <c>samples</c>: the three sample MCP servers at the resource identifiers the demo seed registers.</summary>
internal sealed class SampleServers
{
    private readonly List<(string Scheme, string Path, EmaMcpServerDefinition Definition)> _servers = [];

    public static SampleServers Register(WebApplicationBuilder builder, string baseUrl, bool authorizationServerInProcess, string dataDirectory)
    {
        var samples = new SampleServers();
        var authentication = builder.Services.AddAuthentication();
        builder.Services.AddAuthorization();
        var outbound = authorizationServerInProcess ? null : OutboundHttp.Create(Path.Combine(dataDirectory, "tls", LocalCertificateAuthority.CaCertificateFile), builder.Configuration["Ema:Tls:TrustedCaPath"]);
        foreach (var (name, path, scopes, definition) in new (string, string, string[], EmaMcpServerDefinition)[]
        {
            ("tickets", "/mcp/tickets", [TicketTracker.ReadScope, TicketTracker.WriteScope], new TicketTracker().Definition()),
            ("wiki", "/mcp/wiki", [DocumentsWiki.ReadScope], new DocumentsWiki().Definition()),
            ("ledger", "/mcp/ledger", [FinanceLedger.ReadScope, FinanceLedger.WriteScope], new FinanceLedger().Definition()),
        })
        {
            var scheme = "ema-" + name;
            authentication.AddEmaProtectedResource(scheme, o =>
            {
                o.Resource = baseUrl + path;
                o.AuthorizationServer = builder.Configuration["Ema:AuthorizationServer:Issuer"] is { Length: > 0 } issuer ? issuer : baseUrl + "/as";
                o.ScopesSupported = scopes;
                o.ResourceName = definition.ServerInfo.Name;
                o.Backchannel = outbound;
            });
            samples._servers.Add((scheme, path, definition));
        }

        if (authorizationServerInProcess)
        {
            // Same process as the authorization server: verify against its key ring, no HTTP round trip.
            foreach (var (scheme, _, _) in samples._servers)
            {
                builder.Services.AddOptions<EmaProtectedResourceOptions>(scheme).Configure<IServiceProvider>((o, sp) => o.Keys = new DeferredKeySource(() => sp.GetRequiredService<AuthorizationServerTokens>().Ring));
            }
        }

        return samples;
    }

    public void Map(WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        foreach (var (scheme, path, definition) in _servers)
        {
            app.MapEmaProtectedResourceMetadata(scheme);
            app.MapMcpStreamableHttp(path, definition, scheme);
        }
    }

    /// <summary>Resolves the key ring on first use (it is loaded by a start-up task, after the services are built).</summary>
    private sealed class DeferredKeySource(Func<IIssuerKeySource> resolve) : IIssuerKeySource
    {
        private readonly Lazy<IIssuerKeySource> _inner = new(resolve);

        public ValueTask<KeyLookupResult> FindKeyAsync(string? keyId, JwsAlgorithm algorithm, CancellationToken cancellationToken) =>
            _inner.Value.FindKeyAsync(keyId, algorithm, cancellationToken);
    }
}
