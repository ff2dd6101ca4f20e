using Ema.Server.Policy;

namespace Ema.Admin.Pages.Admin;

public sealed class PoliciesModel(AdminQueries queries, AdminOperations operations) : ConsolePageModel
{
    /// <summary>What the editor starts with before any version exists.</summary>
    public const string Starter = """
        version: 1
        default: deny
        rules:
          - id: engineering-wiki
            description: Engineering reads the wiki
            effect: allow
            subjects: { groups: [grp-engineering] }
            resources: [res-wiki]
            scopes: [wiki.read]
        """;

    public PolicySource Source { get; private set; } = new("entitlements", null, null);

    public IReadOnlyList<PolicyVersionView> History { get; private set; } = [];

    public string Yaml { get; private set; } = string.Empty;

    public long? ViewingVersion { get; private set; }

    public string? Validated { get; private set; }

    public IReadOnlyList<PolicyError> Warnings { get; private set; } = [];

    public async Task OnGetAsync(long? version, CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken);
        if (version is { } v && await queries.GetPolicyVersionAsync(v, cancellationToken) is { } shown)
        {
            ViewingVersion = v;
            Yaml = shown.Yaml;
        }
    }

    public async Task OnPostValidateAsync(string? yaml, CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken);
        Yaml = yaml ?? string.Empty;
        var (document, errors) = PolicyYaml.Parse(Yaml);
        if (document is null)
        {
            Show(AdminResult.Refused("The policy has errors (nothing was applied).", errors));
        }
        else
        {
            Validated = $"{document.Rules.Count} rules, default deny.";
            Warnings = await queries.FindUnknownPolicyNamesAsync(document, cancellationToken);
        }
    }

    public async Task OnPostApplyAsync(string? yaml, string? comment, CancellationToken cancellationToken)
    {
        Show(await operations.ImportPolicyAsync(Me, yaml ?? string.Empty, comment, cancellationToken));
        await LoadAsync(cancellationToken);
        if (Outcome is { Succeeded: false })
        {
            Yaml = yaml ?? string.Empty; // keep the admin's text to fix
        }
    }

    public async Task OnPostRollbackAsync(long version, CancellationToken cancellationToken)
    {
        Show(await operations.RollbackPolicyAsync(Me, version, cancellationToken));
        await LoadAsync(cancellationToken);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        Source = await queries.GetPolicySourceAsync(cancellationToken);
        History = await queries.ListPolicyVersionsAsync(cancellationToken);
        Yaml = Source.Version?.Yaml ?? Starter;
    }
}
