using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Security;
using Ema.Server.AspNetCore.ProtectedResource;
using Ema.Server.AspNetCore.Results;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Ema.Server.AspNetCore.Mcp;

/// <summary>
/// Hosts an MCP server over Streamable HTTP (MCP transports, 2025-11-25) with <c>ModelContextProtocol.Core</c> only:
/// sessions (<c>Mcp-Session-Id</c>) bound to the subject that created them, idle expiry, DELETE, Accept, Origin and
/// <c>MCP-Protocol-Version</c> checks, and per-tool scopes — <c>tools/list</c> shows a caller only the tools its token allows, and a
/// <c>tools/call</c> without the scope gets HTTP 403 <c>insufficient_scope</c> naming it (the MCP step-up signal).
/// </summary>
public static class McpStreamableHttpEndpoints
{
    private const string SessionHeader = McpTransport.SessionIdHeader;
    private static readonly JsonTypeInfo<JsonRpcMessage> MessageType = (JsonTypeInfo<JsonRpcMessage>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage));

    private sealed class Session(StreamableHttpServerTransport transport, McpServer server, Task run, CancellationTokenSource stop, string owner)
    {
        public StreamableHttpServerTransport Transport { get; } = transport;

        public McpServer Server { get; } = server;

        public Task Run { get; } = run;

        public CancellationTokenSource Stop { get; } = stop;

        public string Owner { get; } = owner;

        public long LastUsedTicks;
    }

    /// <summary>Maps POST, GET and DELETE for one MCP server at <paramref name="pattern"/>, requiring an Ema bearer token.</summary>
    public static RouteGroupBuilder MapMcpStreamableHttp(this IEndpointRouteBuilder endpoints, string pattern, EmaMcpServerDefinition definition, string scheme = EmaProtectedResourceDefaults.AuthenticationScheme)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        return MapCore(endpoints, pattern, definition, scheme);
    }

    /// <summary>
    /// Maps an MCP server that requires <b>no</b> authentication: every caller is the same anonymous owner and a tool
    /// with a required scope can never be called. For public servers, and for measuring what authentication costs
    /// (the benchmark's unauthenticated baseline); never for a server holding a user's data.
    /// </summary>
    public static RouteGroupBuilder MapAnonymousMcpStreamableHttp(this IEndpointRouteBuilder endpoints, string pattern, EmaMcpServerDefinition definition) =>
        MapCore(endpoints, pattern, definition, scheme: null);

    private static RouteGroupBuilder MapCore(IEndpointRouteBuilder endpoints, string pattern, EmaMcpServerDefinition definition, string? scheme)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(definition);
        var sessions = new ConcurrentDictionary<string, Session>(StringComparer.Ordinal);
        var rootServices = endpoints.ServiceProvider; // sessions outlive requests: never the request scope
        var loggerFactory = rootServices.GetRequiredService<ILoggerFactory>();
        var time = endpoints.ServiceProvider.GetService<TimeProvider>() ?? TimeProvider.System;
        var resourceMetadata = scheme is null ? null : endpoints.ServiceProvider.GetRequiredService<IOptionsMonitor<EmaProtectedResourceOptions>>().Get(scheme).ResourceMetadataUrl;
        var requiredScopes = definition.Tools.Where(t => t.RequiredScope is not null).ToDictionary(t => t.Name, t => t.RequiredScope!, StringComparer.Ordinal);
        var resource = scheme is null ? null : endpoints.ServiceProvider.GetRequiredService<IOptionsMonitor<EmaProtectedResourceOptions>>().Get(scheme).Resource;

        // With an audit sink in the host, every tools/call decision is recorded (durably, before the answer), linked to
        // the access token's jti: IdP decision → ID-JAG jti → access-token jti → MCP call.
        var audit = endpoints.ServiceProvider.GetService<IAuditSink>();
        var nextSweep = 0L;

        var group = endpoints.MapGroup(pattern);
        if (scheme is not null)
        {
            group.RequireEmaToken(scheme);
        }

        group.AddEndpointFilter(async (context, next) =>
        {
            // Transports §"Protocol Version Header": an invalid or unsupported version MUST get 400 Bad Request.
            var version = context.HttpContext.Request.Headers[McpTransport.ProtocolVersionHeader];
            if (version.Count > 1 || (version.Count == 1 && !McpTransport.SupportedProtocolVersions.Contains(version.ToString())))
            {
                return Microsoft.AspNetCore.Http.Results.Json(
                    new JsonRpcError { Id = default, Error = new JsonRpcErrorDetail { Code = (int)McpErrorCode.InvalidRequest, Message = $"Unsupported {McpTransport.ProtocolVersionHeader}; supported: {string.Join(", ", McpTransport.SupportedProtocolVersions)}." } },
                    McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcError)),
                    statusCode: StatusCodes.Status400BadRequest);
            }

            return await next(context).ConfigureAwait(false);
        });

        group.MapPost(string.Empty, async (HttpContext ctx) =>
        {
            SweepIdle(sessions, time, definition.SessionIdleTimeout, ref nextSweep);
            if (!AcceptsBoth(ctx.Request) || !SameOriginOrNone(ctx.Request))
            {
                ctx.Response.StatusCode = !AcceptsBoth(ctx.Request) ? StatusCodes.Status406NotAcceptable : StatusCodes.Status403Forbidden;
                return;
            }

            JsonRpcMessage? message;
            try
            {
                message = await JsonSerializer.DeserializeAsync(ctx.Request.Body, MessageType, ctx.RequestAborted).ConfigureAwait(false);
            }
            catch (JsonException)
            {
                message = null;
            }

            if (message is null)
            {
                ctx.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }

            // Per-tool scopes: a call to a tool whose scope the token lacks is an HTTP-level 403 the client can step up on.
            var toolCall = message is JsonRpcRequest { Method: RequestMethods.ToolsCall } call ? call.Params?["name"]?.GetValue<string>() ?? string.Empty : null;
            var needed = toolCall is not null && requiredScopes.TryGetValue(toolCall, out var required) ? required : null;
            var allowed = needed is null || HasScope(ctx.User, needed);
            if (toolCall is not null && audit is not null && !await TryAuditAsync(audit, ctx, time, toolCall, needed, allowed, resource).ConfigureAwait(false))
            {
                ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable; // no record, no call (as at the token endpoints)
                return;
            }

            if (!allowed && needed is { } scope)
            {
                if (resourceMetadata is null)
                {
                    ctx.Response.StatusCode = StatusCodes.Status403Forbidden; // anonymous server: no token can carry a scope
                    return;
                }

                OAuthErrorWriter.WriteBearerChallenge(ctx, OAuthError.InsufficientScope(scope), resourceMetadata);
                return;
            }

            message.Context = new JsonRpcMessageContext { User = ctx.User };
            var owner = Owner(ctx.User);
            var sessionId = ctx.Request.Headers[SessionHeader].ToString();
            Session session;
            if (string.IsNullOrEmpty(sessionId))
            {
                if (message is not JsonRpcRequest { Method: RequestMethods.Initialize })
                {
                    ctx.Response.StatusCode = StatusCodes.Status400BadRequest; // a session starts with initialize
                    return;
                }

                sessionId = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
                var transport = new StreamableHttpServerTransport(loggerFactory) { SessionId = sessionId };
                var stop = new CancellationTokenSource();
                var server = McpServer.Create(transport, Options(definition), loggerFactory, rootServices);
                session = new Session(transport, server, server.RunAsync(stop.Token), stop, owner);
                sessions[sessionId] = session;
            }
            else if (!sessions.TryGetValue(sessionId, out session!))
            {
                ctx.Response.StatusCode = StatusCodes.Status404NotFound; // unknown or expired: the client re-initializes
                return;
            }
            else if (!string.Equals(session.Owner, owner, StringComparison.Ordinal))
            {
                // A session belongs to the subject (and client) that created it: another user's token cannot use it.
                ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
                return;
            }

            Interlocked.Exchange(ref session.LastUsedTicks, time.GetUtcNow().UtcTicks);
            ctx.Response.Headers[SessionHeader] = sessionId;
            ctx.Response.ContentType = MediaTypes.EventStream;
            ctx.Response.Headers.CacheControl = "no-cache,no-store";
            ctx.Features.GetRequiredFeature<IHttpResponseBodyFeature>().DisableBuffering();
            var wrote = await session.Transport.HandlePostRequestAsync(message, ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
            if (!wrote && !ctx.Response.HasStarted)
            {
                ctx.Response.ContentType = null;
                ctx.Response.StatusCode = StatusCodes.Status202Accepted; // notifications and responses
            }
        });

        group.MapGet(string.Empty, async (HttpContext ctx) =>
        {
            if (!sessions.TryGetValue(ctx.Request.Headers[SessionHeader].ToString(), out var session) || session.Owner != Owner(ctx.User))
            {
                ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            ctx.Response.ContentType = MediaTypes.EventStream;
            ctx.Response.Headers.CacheControl = "no-cache,no-store";
            ctx.Features.GetRequiredFeature<IHttpResponseBodyFeature>().DisableBuffering();
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            try
            {
                await session.Transport.HandleGetRequestAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // the client went away
            }
        });

        group.MapDelete(string.Empty, async (HttpContext ctx) =>
        {
            var id = ctx.Request.Headers[SessionHeader].ToString();
            if (!sessions.TryGetValue(id, out var session) || session.Owner != Owner(ctx.User) || !sessions.TryRemove(id, out session))
            {
                ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await StopAsync(session).ConfigureAwait(false);
            ctx.Response.StatusCode = StatusCodes.Status200OK;
        });

        return group;
    }

    private static async Task<bool> TryAuditAsync(IAuditSink audit, HttpContext ctx, TimeProvider time, string tool, string? scope, bool allowed, string? resource)
    {
        var now = time.GetUtcNow();
        try
        {
            await audit.WriteAsync(new AuditEvent
            {
                Id = SecretHasher.NewOrderedId("evt_", now),
                Time = now,
                Type = AuditEventTypes.McpToolCall,
                Action = tool,
                Outcome = allowed ? AuditOutcomes.Granted : AuditOutcomes.Denied,
                Reason = allowed ? null : $"the token lacks the scope {scope}",
                ClientId = ctx.User.FindFirst(JwtClaimNames.ClientId)?.Value,
                Subject = ctx.User.FindFirst(JwtClaimNames.Subject)?.Value,
                Resource = resource,
                Scope = scope,
                ParentTokenId = ctx.User.FindFirst(JwtClaimNames.JwtId)?.Value,
                SessionId = ctx.Request.Headers[SessionHeader].ToString() is { Length: > 0 } session ? session : null,
                RemoteAddress = ctx.Connection.RemoteIpAddress?.ToString(),
            }, ctx.RequestAborted).ConfigureAwait(false);
            return true;
        }
        catch (AuditUnavailableException)
        {
            return false;
        }
    }

    private static McpServerOptions Options(EmaMcpServerDefinition definition)
    {
        var options = new McpServerOptions
        {
            ServerInfo = definition.ServerInfo,
            ServerInstructions = definition.Instructions,
            ToolCollection = [.. definition.Tools.Select(t => t.Tool)],
        };
        var scopes = definition.Tools.ToDictionary(t => t.Name, t => t.RequiredScope, StringComparer.Ordinal);

        // tools/list is evaluated per request against the caller's current token, so a step-up shows new tools at once.
        options.Filters.Request.ListToolsFilters.Add(next => async (context, cancellationToken) =>
        {
            var result = await next(context, cancellationToken).ConfigureAwait(false);
            result.Tools = [.. result.Tools.Where(t => !scopes.TryGetValue(t.Name, out var scope) || scope is null || HasScope(context.User, scope))];
            return result;
        });
        return options;
    }

    private static bool HasScope(ClaimsPrincipal? user, string scope) =>
        user?.HasClaim(EmaProtectedResourceDefaults.ScopeClaim, scope) == true;

    private static string Owner(ClaimsPrincipal user) =>
        (user.FindFirst(JwtClaimNames.Subject)?.Value ?? string.Empty) + "\n" + (user.FindFirst(JwtClaimNames.ClientId)?.Value ?? string.Empty);

    // MCP transports: a POST must accept both application/json and text/event-stream.
    private static bool AcceptsBoth(HttpRequest request)
    {
        var accept = request.Headers.Accept.ToString();
        return accept.Contains(MediaTypes.Json, StringComparison.OrdinalIgnoreCase) && accept.Contains(MediaTypes.EventStream, StringComparison.OrdinalIgnoreCase);
    }

    // MCP transports (security warning): validate Origin to stop DNS rebinding; non-browser clients send none.
    private static bool SameOriginOrNone(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        return origin.Length == 0 || string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);
    }

    private static void SweepIdle(ConcurrentDictionary<string, Session> sessions, TimeProvider time, TimeSpan idle, ref long nextSweep)
    {
        var now = time.GetUtcNow().UtcTicks;
        var due = Volatile.Read(ref nextSweep);
        if (now < due || Interlocked.CompareExchange(ref nextSweep, now + TimeSpan.FromSeconds(30).Ticks, due) != due)
        {
            return;
        }

        foreach (var (id, session) in sessions)
        {
            if (now - Interlocked.Read(ref session.LastUsedTicks) > idle.Ticks && sessions.TryRemove(id, out _))
            {
                _ = StopAsync(session);
            }
        }
    }

    private static async Task StopAsync(Session session)
    {
        await session.Transport.DisposeAsync().ConfigureAwait(false);
        await session.Stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await session.Run.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }

        await session.Server.DisposeAsync().ConfigureAwait(false);
        session.Stop.Dispose();
    }
}
