using Ema.Server.Model;

namespace Ema.Admin.Pages.Admin;

public sealed class UsersModel(AdminQueries queries, AdminOperations operations) : ConsolePageModel
{
    public IReadOnlyList<UserView> Users { get; private set; } = [];

    public string? Search { get; private set; }

    public async Task OnGetAsync(string? search, CancellationToken cancellationToken) => await LoadAsync(search, cancellationToken);

    public async Task OnPostCreateAsync(string username, string displayName, string? email, string? department, CancellationToken cancellationToken)
    {
        Show(await operations.CreateUserAsync(Me, username, displayName, email, department, cancellationToken));
        await LoadAsync(null, cancellationToken);
    }

    public async Task OnPostStatusAsync(string username, bool active, CancellationToken cancellationToken)
    {
        Show(await operations.SetUserStatusAsync(Me, username, active ? UserStatus.Active : UserStatus.Disabled, cancellationToken));
        await LoadAsync(null, cancellationToken);
    }

    public async Task OnPostRoleAsync(string username, string role, CancellationToken cancellationToken)
    {
        Show(await operations.AddRoleAsync(Me, username, role, cancellationToken));
        await LoadAsync(null, cancellationToken);
    }

    public async Task OnPostUnlockAsync(string username, CancellationToken cancellationToken)
    {
        Show(await operations.UnlockUserAsync(Me, username, cancellationToken));
        await LoadAsync(null, cancellationToken);
    }

    public async Task OnPostResetMfaAsync(string username, CancellationToken cancellationToken)
    {
        Show(await operations.ResetMfaAsync(Me, username, cancellationToken));
        await LoadAsync(null, cancellationToken);
    }

    public async Task OnPostRemoveRoleAsync(string username, string role, CancellationToken cancellationToken)
    {
        Show(await operations.RemoveRoleAsync(Me, username, role, cancellationToken));
        await LoadAsync(null, cancellationToken);
    }

    private async Task LoadAsync(string? search, CancellationToken cancellationToken)
    {
        Search = search;
        Users = await queries.ListUsersAsync(search, 500, cancellationToken);
    }
}
