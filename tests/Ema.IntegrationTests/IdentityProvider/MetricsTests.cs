using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;
using Ema.Protocol;
using Ema.Server;
using Microsoft.Extensions.DependencyInjection;

namespace Ema.IntegrationTests.IdentityProvider;

/// <summary>Ema's metrics: token requests by fixed tags only (never a caller's string), and the audit's group commits.</summary>
[Collection(EmaServerCollection.Name)]
public sealed class MetricsTests(EmaServerFixture server)
{
    [Fact]
    public async Task Metrics_TokenRequestsAndAuditCommits_AreCounted_WithTagsFromFixedSetsOnly()
    {
        var measurements = new ConcurrentQueue<(string Instrument, long Value, Dictionary<string, object?> Tags)>();
        var meters = server.App.Services.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener
        {
            // This host's meter only (tests of other hosts run alongside).
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == EmaMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meters))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            measurements.Enqueue((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        listener.Start();

        var alice = await server.SignInAsync("alice");
        var exchanged = await server.TokenAsync(server.ExchangeForm(alice.Tokens.IdToken!, server.BaseUrl + "/mcp/tickets"), (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        Assert.Equal(HttpStatusCode.OK, exchanged.StatusCode);
        server.Remember(await exchanged.Content.ReadAsStringAsync());
        var invented = await server.TokenAsync(new() { ["grant_type"] = "urn:example:made-up-" + Guid.NewGuid().ToString("N") }, (DemoSeed.AgentClientId, server.Demo.ClientSecret));
        Assert.Equal(HttpStatusCode.BadRequest, invented.StatusCode);
        listener.RecordObservableInstruments();

        var requests = measurements.Where(m => m.Instrument == "ema.token.requests").ToList();
        Assert.Contains(requests, m => (string?)m.Tags["oauth.grant_type"] == GrantTypes.TokenExchange && (string?)m.Tags["ema.outcome"] == "granted" && (string?)m.Tags["ema.role"] == "idp");
        Assert.Contains(requests, m => (string?)m.Tags["oauth.grant_type"] == "other" && (string?)m.Tags["ema.outcome"] == "denied" && (string?)m.Tags["ema.error_id"] == ErrorIds.UnsupportedGrantType.Id);
        Assert.DoesNotContain(requests, m => m.Tags.Values.OfType<string>().Any(v => v.Contains("made-up", StringComparison.Ordinal))); // a caller's string is never a tag
        Assert.Contains(measurements, m => m.Instrument == "ema.audit.commit.writes" && m.Value >= 1);
    }
}
