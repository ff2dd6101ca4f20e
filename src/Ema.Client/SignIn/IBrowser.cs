namespace Ema.Client.SignIn;

/// <summary>Shows the IdP's sign-in page to the user: the system browser, a printed URL, or a scripted browser in tests.</summary>
public interface IBrowser
{
    /// <summary>Opens <paramref name="authorizationUrl"/>; the IdP later redirects the browser to the client's loopback listener.</summary>
    Task OpenAsync(Uri authorizationUrl, CancellationToken cancellationToken);
}
