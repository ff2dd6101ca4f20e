using Ema.Admin.Api;
using Ema.Admin.Console;
using Ema.Server;
using Ema.Server.Policy;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Ema.Admin;

/// <summary>Registers and maps the admin console, the self-service pages and the admin API.</summary>
public static class AdminConsoleServiceCollectionExtensions
{
    /// <summary>
    /// Adds the console (it needs the IdP role in the same host: it signs its users in there), its cookie scheme and
    /// authorization policies, the audited admin operations and the admin API's OpenAPI document.
    /// <paramref name="http"/> is the client for connection checks (the host decides its TLS trust).
    /// </summary>
    public static IServiceCollection AddEmaAdminConsole(this IServiceCollection services, HttpClient http, Action<AdminConsoleOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<AdminConsoleOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AdminConsoleOptions>, AdminConsoleOptionsValidator>());
        services.AddSingleton(new ConsoleHttpClient(http));
        services.TryAddSingleton<ResourceConnectionCheck>();
        services.TryAddSingleton<AdminOperations>();
        services.TryAddSingleton<AuthorizationServerOperations>(); // used only where the authorization-server role is hosted
        services.TryAddSingleton<AdminQueries>();
        services.TryAddSingleton<DecisionTrail>();
        services.TryAddSingleton<PolicySimulator>();
        services.TryAddSingleton<Api.AuditVerificationGate>();
        services.AddSingleton<IStartupTask, ConsoleClientRegistration>();

        services.AddAuthentication().AddCookie(ConsoleNames.Scheme, cookie =>
        {
            cookie.LoginPath = ConsoleNames.LoginPath;
            cookie.AccessDeniedPath = ConsoleNames.DeniedPath;
            cookie.ReturnUrlParameter = "returnUrl";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            cookie.Cookie.Path = "/";
            cookie.SlidingExpiration = false;
            cookie.Events.OnValidatePrincipal = ConsoleSignIn.ValidatePrincipalAsync;

            // The API answers 401/403 as status codes; only pages redirect to the sign-in.
            cookie.Events.OnRedirectToLogin = ctx => RedirectOrStatus(ctx, StatusCodes.Status401Unauthorized);
            cookie.Events.OnRedirectToAccessDenied = ctx => RedirectOrStatus(ctx, StatusCodes.Status403Forbidden);
        });
        services.AddAuthentication().AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, AdminApiBearerHandler>(AdminApiBearerHandler.SchemeName, null)
            .AddPolicyScheme(AdminApiBearerHandler.ApiSchemeName, "Ema admin API", api =>
            {
                // Exactly one identity per request: a bearer token when the request carries an Authorization header,
                // else the console cookie. Authenticating with both would merge two users into one principal — the
                // roles of one, the second factor of the other (a password-only token plus an MFA cookie).
                api.ForwardDefaultSelector = http => http.Request.Headers.Authorization.Count > 0 ? AdminApiBearerHandler.SchemeName : ConsoleNames.Scheme;
            });
        services.AddOptions<CookieAuthenticationOptions>(ConsoleNames.Scheme).Configure<IOptions<Ema.Server.Options.IdentityProviderOptions>>((cookie, idp) =>
        {
            // Decided by the issuer, not by the request: behind a TLS-terminating proxy the cookie must still be Secure.
            var https = ConsoleSignIn.IsHttps(idp.Value.Issuer);
            cookie.Cookie.Name = https ? "__Host-ema-console" : "ema-console-dev";
            cookie.Cookie.SecurePolicy = https ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
        });
        services.AddAuthorization();
        services.AddOptions<Microsoft.AspNetCore.Authorization.AuthorizationOptions>().Configure<IOptions<AdminConsoleOptions>>((authorization, admin) =>
        {
            authorization.AddPolicy(ConsoleNames.UserPolicy, p => p.AddAuthenticationSchemes(ConsoleNames.Scheme).RequireAuthenticatedUser());
            authorization.AddPolicy(ConsoleNames.AdminPolicy, p => p.AddAuthenticationSchemes(ConsoleNames.Scheme).RequireClaim(ConsoleNames.Claims.Role, admin.Value.AdminRole));

            // The API has no page filter to step up with: it needs the admin role and an MFA sign-in outright — by the
            // console cookie or by a bearer token of the ema admin CLI.
            authorization.AddPolicy(ConsoleNames.AdminApiPolicy, p => p.AddAuthenticationSchemes(AdminApiBearerHandler.ApiSchemeName).RequireClaim(ConsoleNames.Claims.Role, admin.Value.AdminRole).RequireClaim(ConsoleNames.Claims.Amr, ConsoleNames.MfaMethod));
        });

        services.AddRazorPages(pages =>
        {
            pages.Conventions.AuthorizeFolder("/Admin", ConsoleNames.AdminPolicy);
            pages.Conventions.AuthorizeFolder("/My", ConsoleNames.UserPolicy);
            pages.Conventions.AllowAnonymousToPage("/Admin/Denied");
            pages.Conventions.AddFolderApplicationModelConvention("/", model => model.Filters.Add(new SecurityHeadersPageFilter()));
            pages.Conventions.AddFolderApplicationModelConvention("/Admin", model =>
            {
                if (model.ViewEnginePath != "/Admin/Denied")
                {
                    model.Filters.Add(new StepUpPageFilter());
                }
            });
        }).AddApplicationPart(typeof(AdminConsoleServiceCollectionExtensions).Assembly);
        services.AddOpenApi(AdminApi.DocumentName, o =>
        {
            o.ShouldInclude = d => d.RelativePath?.StartsWith("admin/api/", StringComparison.Ordinal) == true;
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Ema admin API";
                document.Info.Description = "The directory, applications, policy, simulator and audit trail of an Ema IdP. The API takes the console's sign-in (cookie) or a bearer token issued to the ema admin CLI (ema admin login), and needs the admin role and an MFA sign-in; changes need one in the last ChangeMaxAuthAge.";
                return Task.CompletedTask;
            });
        });
        return services;
    }

    /// <summary>Maps the console pages (<c>/admin</c>, <c>/my/connections</c>), its sign-in endpoints and the admin API.</summary>
    public static IEndpointRouteBuilder MapEmaAdminConsole(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ConsoleSignIn.Map(endpoints);
        endpoints.MapRazorPages();
        AdminApi.Map(endpoints);
        return endpoints;
    }

    private static Task RedirectOrStatus(Microsoft.AspNetCore.Authentication.RedirectContext<CookieAuthenticationOptions> ctx, int status)
    {
        if (ctx.Request.Path.StartsWithSegments("/admin/api", StringComparison.Ordinal))
        {
            ctx.Response.StatusCode = status;
            return Task.CompletedTask;
        }

        ctx.Response.Redirect(ctx.RedirectUri);
        return Task.CompletedTask;
    }
}
