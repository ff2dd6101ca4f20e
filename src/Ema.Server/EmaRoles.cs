namespace Ema.Server;

/// <summary>Names of Ema's server roles (configuration values and DI keys of per-role services).</summary>
public static class EmaRoles
{
    /// <summary>The enterprise IdP.</summary>
    public const string IdentityProvider = "idp";

    /// <summary>The authorization server for MCP servers.</summary>
    public const string AuthorizationServer = "as";
}
