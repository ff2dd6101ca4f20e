using Ema.Server.Policy;

namespace Ema.Admin.Pages.Admin;

public sealed class SimulatorModel(AdminQueries queries, PolicySimulator simulator, IAccessPolicy policy) : ConsolePageModel
{
    public SimulationInput Input { get; private set; } = new() { User = string.Empty, ClientId = string.Empty, Resource = string.Empty };

    public IReadOnlyList<ClientView> Clients { get; private set; } = [];

    public IReadOnlyList<ResourceView> Resources { get; private set; } = [];

    public AccessDecision? Decision { get; private set; }

    public string? Problem { get; private set; }

    public async Task OnGetAsync(string? user, string? client, string? resource, string? scopes, bool mfa, int? age, string? ip, string? ask, CancellationToken cancellationToken)
    {
        Clients = [.. (await queries.ListClientsAsync(cancellationToken)).Where(c => c.TokenExchange)];
        Resources = await queries.ListResourcesAsync(cancellationToken);
        Input = new SimulationInput
        {
            User = user ?? string.Empty,
            ClientId = client ?? Clients.FirstOrDefault()?.ClientId ?? string.Empty,
            Resource = resource ?? Resources.FirstOrDefault()?.Id ?? string.Empty,
            Scopes = (scopes ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries),
            Mfa = mfa,
            AuthenticationAge = TimeSpan.FromMinutes(Math.Clamp(age ?? 1, 0, 60 * 24 * 30)),
            RemoteAddress = string.IsNullOrWhiteSpace(ip) ? null : ip.Trim(),
        };
        if (ask is null || string.IsNullOrWhiteSpace(user))
        {
            return;
        }

        var result = await simulator.SimulateAsync(policy, Input, cancellationToken);
        Decision = result.Decision;
        Problem = result.Problem;
        if (Problem is not null)
        {
            Response.StatusCode = Microsoft.AspNetCore.Http.StatusCodes.Status400BadRequest;
        }
    }
}
