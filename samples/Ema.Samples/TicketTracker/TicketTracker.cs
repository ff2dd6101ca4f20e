using System.Collections.Concurrent;
using System.ComponentModel;
using System.Security.Claims;
using Ema.Server.AspNetCore.Mcp;
using ModelContextProtocol.Server;

namespace Ema.Samples;

/// <summary>A ticket tracker: anyone with tickets.read can list and read; tickets.write creates and updates.</summary>
public sealed class TicketTracker
{
    public const string ReadScope = "tickets.read";
    public const string WriteScope = "tickets.write";

    private readonly ConcurrentDictionary<int, Ticket> _tickets = new();
    private int _next = 3;

    public TicketTracker()
    {
        _tickets[1] = new Ticket(1, "Login page returns 500 on empty password", "open", "seed");
        _tickets[2] = new Ticket(2, "Add dark mode to the dashboard", "in_progress", "seed");
        _tickets[3] = new Ticket(3, "Rotate the staging database credentials", "done", "seed");
    }

    public sealed record Ticket(int Id, string Title, string Status, string CreatedBy);

    public EmaMcpServerDefinition Definition() => new()
    {
        ServerInfo = new() { Name = "ticket-tracker", Version = "1.0.0" },
        Instructions = "Tickets of the engineering team.",
        Tools =
        [
            new(McpServerTool.Create(ListTickets, new() { Name = "list_tickets", Description = "List tickets, optionally by status (open, in_progress, done)." }), ReadScope),
            new(McpServerTool.Create(GetTicket, new() { Name = "get_ticket", Description = "Read one ticket." }), ReadScope),
            new(McpServerTool.Create(CreateTicket, new() { Name = "create_ticket", Description = "Open a new ticket." }), WriteScope),
            new(McpServerTool.Create(UpdateStatus, new() { Name = "update_ticket_status", Description = "Move a ticket to open, in_progress or done." }), WriteScope),
        ],
    };

    private string ListTickets([Description("open, in_progress or done")] string? status = null) =>
        string.Join('\n', _tickets.Values.Where(t => status is null || t.Status == status).OrderBy(t => t.Id).Select(t => $"#{t.Id} [{t.Status}] {t.Title}"));

    private string GetTicket(int id) => _tickets.TryGetValue(id, out var t) ? $"#{t.Id} [{t.Status}] {t.Title} (by {t.CreatedBy})" : $"No ticket #{id}.";

    private string CreateTicket(string title, ClaimsPrincipal? user)
    {
        var id = Interlocked.Increment(ref _next);
        _tickets[id] = new Ticket(id, title, "open", user?.FindFirst("sub")?.Value ?? "unknown");
        return $"Created ticket #{id}.";
    }

    private string UpdateStatus(int id, string status)
    {
        if (status is not ("open" or "in_progress" or "done"))
        {
            return "Status must be open, in_progress or done.";
        }

        return _tickets.TryGetValue(id, out var t) && _tickets.TryUpdate(id, t with { Status = status }, t) ? $"Ticket #{id} is now {status}." : $"No ticket #{id}.";
    }
}
