using Microsoft.Extensions.Options;

namespace Ema.Admin;

/// <summary>Options of the admin console and the self-service pages (configuration section <c>Ema:Admin</c>).</summary>
public sealed class AdminConsoleOptions
{
    public const string Section = "Ema:Admin";

    /// <summary>The directory role that may use the console.</summary>
    public string AdminRole { get; set; } = "admin";

    /// <summary>
    /// Step-up for changes: a change is accepted only when the admin's last sign-in with a second factor is at most this
    /// old; otherwise the console asks for a fresh sign-in with the authenticator first.
    /// </summary>
    public TimeSpan ChangeMaxAuthAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a console sign-in lasts (it also ends with the IdP session it came from).</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>How many audit records one page shows.</summary>
    public int AuditPageSize { get; set; } = 200;
}

/// <summary>Checks <see cref="AdminConsoleOptions"/> at start-up.</summary>
public sealed class AdminConsoleOptionsValidator : IValidateOptions<AdminConsoleOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminConsoleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.AdminRole))
        {
            failures.Add("Ema:Admin:AdminRole must name a role.");
        }

        if (options.ChangeMaxAuthAge < TimeSpan.FromMinutes(1) || options.ChangeMaxAuthAge > TimeSpan.FromHours(12))
        {
            failures.Add("Ema:Admin:ChangeMaxAuthAge must be between 00:01:00 and 12:00:00.");
        }

        if (options.SessionLifetime < TimeSpan.FromMinutes(5) || options.SessionLifetime > TimeSpan.FromDays(1))
        {
            failures.Add("Ema:Admin:SessionLifetime must be between 00:05:00 and 1.00:00:00.");
        }

        if (options.AuditPageSize is < 10 or > 5000)
        {
            failures.Add("Ema:Admin:AuditPageSize must be between 10 and 5000.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
