using Ema.Protocol;
using Ema.Server;
using Ema.Server.Model;
using Ema.Server.Options;
using Ema.Server.Stores;
using Microsoft.Extensions.Options;

namespace Ema.Admin.Console;

/// <summary>
/// Registers the console at the IdP as a public client (code + PKCE only, no token exchange) with its one redirect URI,
/// and keeps that URI right when the host's address changes; registers the <c>ema admin</c> CLI the same way, with a
/// loopback redirect URI.
/// </summary>
internal sealed class ConsoleClientRegistration(IApplicationStore applications, IOptions<IdentityProviderOptions> idp) : IStartupTask
{
    public int Order => 150;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var redirect = ConsoleSignIn.RedirectUri(idp.Value.Issuer);
        var existing = await applications.FindClientAsync(ConsoleNames.ClientId, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            await applications.CreateClientAsync(
                new ClientApplication
                {
                    ClientId = ConsoleNames.ClientId,
                    Name = "Ema admin console",
                    RedirectUris = [redirect],
                    AuthenticationMethod = ClientAuthenticationMethods.None,
                    GrantTypes = [GrantTypes.AuthorizationCode],
                },
                cancellationToken).ConfigureAwait(false);
        }
        else if (!existing.RedirectUris.SequenceEqual([redirect], StringComparer.Ordinal))
        {
            await applications.SetClientRedirectUrisAsync(ConsoleNames.ClientId, [redirect], cancellationToken).ConfigureAwait(false);
        }

        var cli = await applications.FindClientAsync(ConsoleNames.CliClientId, cancellationToken).ConfigureAwait(false);
        if (cli is not null && (!cli.IsPublic || cli.TokenExchangeAllowed || !cli.GrantTypes.SequenceEqual([GrantTypes.AuthorizationCode], StringComparer.Ordinal)
            || !cli.RedirectUris.SequenceEqual([ConsoleNames.CliRedirectUri], StringComparer.Ordinal)))
        {
            // Its tokens administer the IdP: a same-named client registered with a secret, refresh tokens, token exchange
            // or other redirect URIs must not inherit that.
            throw new InvalidOperationException($"A client '{ConsoleNames.CliClientId}' exists with settings other than Ema's admin CLI (public, authorization code only, redirect {ConsoleNames.CliRedirectUri}); its tokens would administer this IdP. Rename that client's registration in the database, then start again.");
        }

        if (cli is null)
        {
            await applications.CreateClientAsync(
                new ClientApplication
                {
                    ClientId = ConsoleNames.CliClientId,
                    Name = "Ema admin CLI",
                    RedirectUris = [ConsoleNames.CliRedirectUri],
                    AuthenticationMethod = ClientAuthenticationMethods.None,
                    GrantTypes = [GrantTypes.AuthorizationCode],
                },
                cancellationToken).ConfigureAwait(false);
        }
    }
}
