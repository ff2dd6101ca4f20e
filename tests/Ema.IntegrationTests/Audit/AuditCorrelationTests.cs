using Ema.Client;
using Ema.IntegrationTests.Client;
using Ema.IntegrationTests.Infrastructure;
using Ema.Server.Audit;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;

namespace Ema.IntegrationTests.Audit;

/// <summary>One decision followed end to end through the audit trail: IdP token exchange → AS redemption → MCP calls.</summary>
[Collection(EmaServerCollection.Name)]
public sealed class AuditCorrelationTests(EmaServerFixture server)
{
    [Fact]
    public async Task AuditTrail_FollowsOneDecisionFromTheIdpThroughTheAsToEachMcpCall()
    {
        using var client = await ClientHarness.SignedInAsync(server, "carol", ClientHarness.Options(server, useCatalog: false));
        await using var connection = await client.ConnectAsync(ClientHarness.Server(server, "tickets", "tickets.read"));
        Assert.Equal(ConnectionStatus.Connected, connection.Status);
        await connection.Client!.CallToolAsync("get_ticket", new Dictionary<string, object?> { ["id"] = 2 });
        await Assert.ThrowsAnyAsync<Exception>(() => connection.Client.CallToolAsync("create_ticket", new Dictionary<string, object?> { ["title"] = "no" }).AsTask()); // carol may not write

        var reader = server.App.Services.GetRequiredService<IAuditReader>();
        var calls = (await reader.ListAsync(new AuditQuery { Subject = null, Limit = 500 }, default)).Where(e => e.Type == AuditEventTypes.McpToolCall && e.Resource == server.BaseUrl + "/mcp/tickets").ToList();
        var read = calls.First(e => e.Action == "get_ticket" && e.Outcome == AuditOutcomes.Granted);
        var refused = calls.First(e => e.Action == "create_ticket" && e.Outcome == AuditOutcomes.Denied);
        Assert.Equal(read.ParentTokenId, refused.ParentTokenId); // the same access token
        Assert.Contains("tickets.write", refused.Reason, StringComparison.Ordinal);

        // access-token jti → the AS redemption that issued it → the ID-JAG it consumed → the IdP decision that issued that.
        var redemption = Assert.Single(await reader.ListAsync(new AuditQuery { TokenId = read.ParentTokenId, Limit = 50 }, default), e => e.Type == AuditEventTypes.JwtBearer);
        Assert.Equal(read.Subject, redemption.Subject);
        var exchange = Assert.Single(await reader.ListAsync(new AuditQuery { TokenId = redemption.ParentTokenId, Limit = 50 }, default), e => e.Type == AuditEventTypes.TokenExchange);
        Assert.Equal("usr-carol", exchange.Subject);
        Assert.Equal(server.BaseUrl + "/mcp/tickets", exchange.Resource);
    }
}
