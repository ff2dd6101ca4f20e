using ModelContextProtocol.Client;

namespace Ema.Client;

/// <summary>How connecting to one server ended.</summary>
public enum ConnectionStatus
{
    /// <summary>Connected: <see cref="EmaConnection.Client"/> is ready.</summary>
    Connected,

    /// <summary>A party refused (policy, the AS, or the server): <see cref="EmaConnection.Refusal"/> says who and why.</summary>
    Blocked,

    /// <summary>The server (or its authorization server) could not be reached.</summary>
    Unreachable,

    /// <summary>The server does not offer Enterprise-Managed Authorization, or its metadata is wrong.</summary>
    NotSupported,
}

/// <summary>One server's connection, or the typed reason there is none.</summary>
public sealed class EmaConnection : IAsyncDisposable
{
    internal EmaConnection(EmaServer server, ConnectionStatus status, McpClient? client = null, EmaRefusal? refusal = null, string? problem = null)
    {
        Server = server;
        Status = status;
        Client = client;
        Refusal = refusal;
        Problem = problem;
    }

    public EmaServer Server { get; }

    public ConnectionStatus Status { get; }

    /// <summary>The connected MCP client (status <see cref="ConnectionStatus.Connected"/>).</summary>
    public McpClient? Client { get; }

    /// <summary>Who refused and why (status <see cref="ConnectionStatus.Blocked"/>).</summary>
    public EmaRefusal? Refusal { get; }

    /// <summary>What went wrong (statuses <see cref="ConnectionStatus.Unreachable"/> and <see cref="ConnectionStatus.NotSupported"/>).</summary>
    public string? Problem { get; }

    /// <summary>One line for people.</summary>
    public string Summary => Status switch
    {
        ConnectionStatus.Connected => "connected",
        ConnectionStatus.Blocked => Refusal!.Reason + (Refusal.DecisionId is { } id ? $" (decision {id})" : string.Empty),
        ConnectionStatus.Unreachable => "unreachable: " + Problem,
        _ => "not supported: " + Problem,
    };

    public async ValueTask DisposeAsync()
    {
        if (Client is not null)
        {
            await Client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
