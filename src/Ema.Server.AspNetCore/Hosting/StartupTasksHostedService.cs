using Microsoft.Extensions.Hosting;

namespace Ema.Server.AspNetCore.Hosting;

/// <summary>Runs every <see cref="IStartupTask"/> in order before the server accepts requests (migrations, then keys).</summary>
internal sealed class StartupTasksHostedService(IEnumerable<IStartupTask> tasks) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var task in tasks.OrderBy(t => t.Order))
        {
            await task.RunAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
