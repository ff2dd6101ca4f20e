using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Ema.Admin.Pages.Admin;

public sealed class DeniedModel : PageModel
{
    public void OnGet() => Response.StatusCode = Microsoft.AspNetCore.Http.StatusCodes.Status403Forbidden;
}
