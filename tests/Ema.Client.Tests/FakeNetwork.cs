using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Ema.Client.Tests;

/// <summary>
/// An in-memory network for unit tests: answers by method and URL, records every request (with its form body), and
/// answers 404 to anything not routed — so a client that asks somewhere it should not is visible in <see cref="Requests"/>.
/// </summary>
internal sealed class FakeNetwork : HttpMessageHandler
{
    private readonly ConcurrentDictionary<string, Func<HttpRequestMessage, string?, HttpResponseMessage>> _routes = new(StringComparer.Ordinal);

    public ConcurrentQueue<(HttpMethod Method, string Url, string? Body, string? Authorization)> Requests { get; } = new();

    public void On(HttpMethod method, string url, Func<HttpRequestMessage, string?, HttpResponseMessage> answer) => _routes[method + " " + url] = answer;

    public void Json(string url, object body) => On(HttpMethod.Get, url, (_, _) => JsonResponse(HttpStatusCode.OK, body));

    public int Count(string url) => Requests.Count(r => r.Url == url);

    public static HttpResponseMessage JsonResponse(HttpStatusCode status, object body) =>
        new(status) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        var url = request.RequestUri!.GetLeftPart(UriPartial.Path);
        Requests.Enqueue((request.Method, url, body, request.Headers.Authorization?.ToString()));
        return _routes.TryGetValue(request.Method + " " + url, out var answer) ? answer(request, body) : new HttpResponseMessage(HttpStatusCode.NotFound);
    }
}
