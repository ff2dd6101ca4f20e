namespace Ema.Admin.Pages.Admin;

public sealed class KeysModel(AdminQueries queries, AdminOperations operations) : ConsolePageModel
{
    public IReadOnlyList<SigningKeyView> Keys { get; private set; } = [];

    public void OnGet() => Keys = queries.ListSigningKeys();

    public async Task OnPostRotateAsync(CancellationToken cancellationToken)
    {
        Show(await operations.RotateSigningKeysAsync(Me, cancellationToken));
        Keys = queries.ListSigningKeys();
    }
}
