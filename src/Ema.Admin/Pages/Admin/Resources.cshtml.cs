using Ema.Server.Stores;

namespace Ema.Admin.Pages.Admin;

public sealed class ResourcesModel(AdminQueries queries, AdminOperations operations, IApplicationStore applications, ResourceConnectionCheck checker) : ConsolePageModel
{
    public IReadOnlyList<ResourceView> Resources { get; private set; } = [];

    public ConnectionCheckReport? Check { get; private set; }

    public string? CheckedId { get; private set; }

    public async Task OnGetAsync(string? check, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(check) && await applications.FindResourceAsync(check, cancellationToken) is { } resource)
        {
            CheckedId = resource.Id;
            Check = await checker.CheckAsync(resource, cancellationToken);
        }

        Resources = await queries.ListResourcesAsync(cancellationToken);
    }

    public async Task OnPostCreateAsync(string id, string displayName, string resource, string authorizationServer, string? scopes, CancellationToken cancellationToken)
    {
        Show(await operations.CreateResourceAsync(Me, id, displayName, resource, authorizationServer, scopes ?? string.Empty, cancellationToken));
        Resources = await queries.ListResourcesAsync(cancellationToken);
    }
}
