namespace Ema.Admin.Console;

/// <summary>Names the console uses: its client at the IdP, its cookie scheme, its claims and its paths.</summary>
public static class ConsoleNames
{
    /// <summary>The console's client id at the IdP (a public client: code + PKCE, redeemed in-process).</summary>
    public const string ClientId = "ema-admin-console";

    /// <summary>
    /// The <c>ema admin</c> CLI's client id at the IdP (public: code + PKCE with a loopback redirect, RFC 8252). The admin
    /// API accepts bearer tokens issued to this client only.
    /// </summary>
    public const string CliClientId = "ema-admin-cli";

    /// <summary>The CLI's redirect URI (loopback: any port, RFC 8252 §7.3).</summary>
    public const string CliRedirectUri = "http://127.0.0.1/callback";

    /// <summary>Authentication scheme of the console cookie.</summary>
    public const string Scheme = "EmaConsole";

    /// <summary>Authorization policy of the admin pages.</summary>
    public const string AdminPolicy = "EmaConsoleAdmin";

    /// <summary>Authorization policy of the admin API: the admin role and an MFA sign-in.</summary>
    public const string AdminApiPolicy = "EmaConsoleAdminApi";

    /// <summary>The <c>amr</c> value of a sign-in with a second factor.</summary>
    public const string MfaMethod = "mfa";

    /// <summary>Authorization policy of the self-service pages (any signed-in user).</summary>
    public const string UserPolicy = "EmaConsoleUser";

    public const string LoginPath = "/admin/login";
    public const string CallbackPath = "/admin/callback";
    public const string LogoutPath = "/admin/logout";
    public const string DeniedPath = "/admin/denied";
    public const string StylesPath = "/admin/console.css";

    /// <summary>Claim types of the console principal (short names: it is our own cookie, not a token).</summary>
    public static class Claims
    {
        public const string Subject = "sub";
        public const string Username = "username";
        public const string Name = "name";
        public const string Role = "role";
        public const string AuthTime = "auth_time";
        public const string Amr = "amr";
        public const string SessionId = "sid";
    }
}
