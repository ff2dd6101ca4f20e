namespace Ema.Server;

/// <summary>Work the host runs once, in <see cref="Order"/>, before it accepts requests (migrations, key loading).</summary>
public interface IStartupTask
{
    /// <summary>Lower runs first: storage 0, keys 100.</summary>
    int Order { get; }

    Task RunAsync(CancellationToken cancellationToken);
}
