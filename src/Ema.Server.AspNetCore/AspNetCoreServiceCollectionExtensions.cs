using Ema.Server.AspNetCore.Hosting;
using Ema.Server.Security;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Ema.Server.AspNetCore;

/// <summary>Registers the ASP.NET Core glue of Ema.</summary>
public static class AspNetCoreServiceCollectionExtensions
{
    /// <summary>
    /// Data Protection persisted in <paramref name="dataProtectionKeysDirectory"/> (it encrypts the signing keys and the
    /// antiforgery tokens), antiforgery for the sign-in page, and the start-up task runner.
    /// </summary>
    public static IServiceCollection AddEmaAspNetCore(this IServiceCollection services, string dataProtectionKeysDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddDataProtection().SetApplicationName("Ema").PersistKeysToFileSystem(new DirectoryInfo(dataProtectionKeysDirectory));
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "ema-af";
            o.Cookie.SameSite = Microsoft.AspNetCore.Http.SameSiteMode.Strict;
            o.FormFieldName = "__af";
        });
        services.TryAddSingleton<IKeyProtector, DataProtectionKeyProtector>();

        // Before every other hosted service (in particular the web server), so requests never see missing keys.
        services.Insert(0, ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, StartupTasksHostedService>());
        return services;
    }
}
