namespace Ema.Admin.Pages.Admin;

public sealed class GroupsModel(AdminQueries queries, AdminOperations operations) : ConsolePageModel
{
    public IReadOnlyList<GroupView> Groups { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken) => Groups = await queries.ListGroupsAsync(cancellationToken);

    public async Task OnPostCreateAsync(string id, string name, string? description, CancellationToken cancellationToken)
    {
        Show(await operations.CreateGroupAsync(Me, id, name, description, cancellationToken));
        Groups = await queries.ListGroupsAsync(cancellationToken);
    }

    public async Task OnPostRemoveMemberAsync(string groupId, string username, CancellationToken cancellationToken)
    {
        Show(await operations.RemoveGroupMemberAsync(Me, groupId, username, cancellationToken));
        Groups = await queries.ListGroupsAsync(cancellationToken);
    }

    public async Task OnPostMemberAsync(string groupId, string username, CancellationToken cancellationToken)
    {
        Show(await operations.AddGroupMemberAsync(Me, groupId, username, cancellationToken));
        Groups = await queries.ListGroupsAsync(cancellationToken);
    }
}
