using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ema.Admin.Console;

/// <summary>
/// Admin pages need a sign-in with a second factor; a change (any POST) needs one no older than
/// <see cref="AdminConsoleOptions.ChangeMaxAuthAge"/>. Otherwise the admin is sent to sign in again with the
/// authenticator (OIDC <c>max_age=0</c> and <c>acr_values</c>) and comes back to the page; the change is not made.
/// </summary>
internal sealed class StepUpPageFilter : IAsyncPageFilter
{
    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var user = ConsoleUser.From(http.User);
        if (user is null)
        {
            return next();
        }

        var isChange = HttpMethods.IsPost(http.Request.Method);
        var maxAge = http.RequestServices.GetRequiredService<IOptions<AdminConsoleOptions>>().Value.ChangeMaxAuthAge;
        if (isChange ? user.MayChange(http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow(), maxAge) : user.UsedMfa)
        {
            return next();
        }

        var returnUrl = http.Request.Path + (isChange ? string.Empty : http.Request.QueryString.ToString());
        context.Result = new RedirectResult($"{ConsoleNames.LoginPath}?stepup=1&returnUrl={Uri.EscapeDataString(returnUrl)}");
        return Task.CompletedTask;
    }
}
