using Ema.Admin.Console;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Ema.Admin.Pages;

/// <summary>Base of the console pages: the signed-in user and the outcome of the last change.</summary>
public abstract class ConsolePageModel : PageModel
{
    /// <summary>The signed-in user (the authorization policies guarantee one).</summary>
    public ConsoleUser Me => ConsoleUser.From(User) ?? throw new InvalidOperationException("The console pages require a signed-in user.");

    /// <summary>The last change's outcome, shown above the page.</summary>
    public AdminResult? Outcome { get; protected set; }

    protected void Show(AdminResult result)
    {
        Outcome = result;
        if (!result.Succeeded)
        {
            Response.StatusCode = Microsoft.AspNetCore.Http.StatusCodes.Status400BadRequest;
        }
    }
}
