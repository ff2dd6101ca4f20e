namespace Ema.Protocol;

/// <summary>MCP Streamable HTTP transport literals (MCP specification, basic/transports, 2025-11-25).</summary>
public static class McpTransport
{
    /// <summary>The session id the server assigns at initialization and the client echoes on every later request.</summary>
    public const string SessionIdHeader = "Mcp-Session-Id";

    /// <summary>The negotiated protocol version a client sends on every request after initialization.</summary>
    public const string ProtocolVersionHeader = "MCP-Protocol-Version";

    /// <summary>Transports §"Protocol Version Header": without the header the server assumes this version.</summary>
    public const string DefaultProtocolVersion = "2025-03-26";

    /// <summary>
    /// Protocol versions served: those negotiated by the <c>initialize</c> handshake over a session. 2024-11-05 had
    /// HTTP+SSE rather than Streamable HTTP, but its clients negotiate the same way. 2026-07-28 removed the handshake
    /// and sessions, so a client announcing it is refused rather than half-served.
    /// </summary>
    public static IReadOnlySet<string> SupportedProtocolVersions { get; } =
        new HashSet<string>(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"], StringComparer.Ordinal);
}

/// <summary>Paths of Ema's extension endpoints (documented as extensions in docs/spec-map.md).</summary>
public static class EmaEndpoints
{
    /// <summary>Decision 20: the IdP's catalog of entitled MCP servers, relative to the IdP issuer.</summary>
    public const string CatalogPath = "/ema/v1/catalog";

    /// <summary>Liveness: the process answers (for a load balancer or an orchestrator; no checks, no details).</summary>
    public const string LivenessPath = "/healthz";

    /// <summary>Readiness: the storage every decision depends on reads and commits; 503 when an instance should take no traffic.</summary>
    public const string ReadinessPath = "/readyz";

    /// <summary>The health-check tag of what readiness checks.</summary>
    public const string ReadinessTag = "ready";
}

/// <summary>Paths of the IdP's RFC 8628 endpoints, relative to the IdP issuer.</summary>
public static class DevicePaths
{
    public const string Authorization = "/device_authorization";
    public const string Verification = "/device";
}

/// <summary>RFC 7009 §2: the IdP's token revocation endpoint, relative to the IdP issuer.</summary>
public static class RevocationPaths
{
    public const string Revoke = "/revoke";
}
