using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Ema.Server.AspNetCore.Mcp;

/// <summary>A tool and the scope a caller's token must carry to see and call it (per-tool scopes).</summary>
public sealed record ScopedTool(McpServerTool Tool, string? RequiredScope = null)
{
    public string Name => Tool.ProtocolTool.Name;
}

/// <summary>An MCP server hosted over Streamable HTTP by <see cref="McpStreamableHttpEndpoints"/>.</summary>
public sealed record EmaMcpServerDefinition
{
    public required Implementation ServerInfo { get; init; }

    public required IReadOnlyList<ScopedTool> Tools { get; init; }

    /// <summary>Sessions unused for this long are closed.</summary>
    public TimeSpan SessionIdleTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Instructions shown to the model.</summary>
    public string? Instructions { get; init; }
}
