using System.Net;
using System.Text.RegularExpressions;
using Ema.Client.SignIn;

namespace Ema.Cli;

/// <summary>
/// A scripted browser for the quickstart and tests: it follows the IdP's redirect to the real sign-in page, fills in
/// the username and password, submits the form (antiforgery token and cookies included) and follows the redirect to
/// the client's loopback listener — exactly what a person does, over HTTP, without a shortcut.
/// </summary>
internal sealed partial class PageSignInBrowser(HttpMessageHandler handler, string username, string password, Func<string>? oneTimeCode = null) : IBrowser
{
    public async Task OpenAsync(Uri authorizationUrl, CancellationToken cancellationToken)
    {
        // The handler must not follow redirects and must keep cookies (the antiforgery cookie).
#pragma warning disable RS0030 // composition root: a per-sign-in client over the caller's handler
        using var browser = new HttpClient(handler, disposeHandler: false);
#pragma warning restore RS0030
        var location = authorizationUrl;
        for (var hops = 0; hops < 10; hops++)
        {
            using var response = await browser.GetAsync(location, cancellationToken);
            if (response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect)
            {
                location = new Uri(location, response.Headers.Location!);
                if (location.IsLoopback && location.Scheme == Uri.UriSchemeHttp)
                {
                    await browser.GetAsync(location, cancellationToken); // the client's loopback listener
                    return;
                }

                continue;
            }

            var page = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode || FormAction().Match(page) is not { Success: true } form)
            {
                throw new InvalidOperationException($"The IdP showed no sign-in form (HTTP {(int)response.StatusCode}): {ErrorText(page)}");
            }

            var fields = HiddenInput().Matches(page).ToDictionary(m => WebUtility.HtmlDecode(m.Groups["name"].Value), m => WebUtility.HtmlDecode(m.Groups["value"].Value));
            fields["username"] = username;
            fields["password"] = password;
            if (page.Contains("name=\"otp\"", StringComparison.Ordinal) && oneTimeCode is not null)
            {
                fields["otp"] = oneTimeCode(); // the authenticator app
            }

            using var posted = await browser.PostAsync(new Uri(location, WebUtility.HtmlDecode(form.Groups[1].Value)), new FormUrlEncodedContent(fields), cancellationToken);
            if (posted.Headers.Location is null)
            {
                throw new InvalidOperationException($"Sign-in as {username} failed: {ErrorText(await posted.Content.ReadAsStringAsync(cancellationToken))}");
            }

            location = new Uri(location, posted.Headers.Location);
            if (location.IsLoopback && location.Scheme == Uri.UriSchemeHttp)
            {
                await browser.GetAsync(location, cancellationToken);
                return;
            }
        }

        throw new InvalidOperationException("Too many redirects during sign-in.");
    }

    private static string ErrorText(string page) => ErrorElement().Match(page) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : "no message";

    [GeneratedRegex("<form[^>]*action=\"([^\"]*)\"", RegexOptions.CultureInvariant)]
    private static partial Regex FormAction();

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<name>[^\"]*)\" value=\"(?<value>[^\"]*)\"", RegexOptions.CultureInvariant)]
    private static partial Regex HiddenInput();

    [GeneratedRegex("id=\"error\">([^<]*)<", RegexOptions.CultureInvariant)]
    private static partial Regex ErrorElement();
}
