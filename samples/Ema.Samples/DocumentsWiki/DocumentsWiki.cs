using Ema.Server.AspNetCore.Mcp;
using ModelContextProtocol.Server;

namespace Ema.Samples;

/// <summary>A read-only documents wiki (wiki.read).</summary>
public sealed class DocumentsWiki
{
    public const string ReadScope = "wiki.read";

    private static readonly Dictionary<string, (string Title, string Body)> Documents = new(StringComparer.Ordinal)
    {
        ["onboarding"] = ("Onboarding checklist", "Laptop, accounts, security training, first pull request."),
        ["expenses"] = ("Expense policy", "Submit receipts within 30 days; travel needs a manager's approval."),
        ["incident-response"] = ("Incident response", "Page the on-call engineer, open an incident channel, write the timeline."),
    };

    public EmaMcpServerDefinition Definition() => new()
    {
        ServerInfo = new() { Name = "documents-wiki", Version = "1.0.0" },
        Instructions = "The company handbook.",
        Tools =
        [
            new(McpServerTool.Create(Search, new() { Name = "search_documents", Description = "Find documents whose title or text contains the words." }), ReadScope),
            new(McpServerTool.Create(Read, new() { Name = "read_document", Description = "Read a document by its slug." }), ReadScope),
        ],
    };

    private static string Search(string query) =>
        string.Join('\n', Documents.Where(d => (d.Value.Title + " " + d.Value.Body).Contains(query, StringComparison.OrdinalIgnoreCase)).Select(d => $"{d.Key}: {d.Value.Title}")) is { Length: > 0 } hits ? hits : "No documents match.";

    private static string Read(string slug) => Documents.TryGetValue(slug, out var d) ? $"# {d.Title}\n\n{d.Body}" : $"No document '{slug}'.";
}
