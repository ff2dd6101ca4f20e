using System.Text.RegularExpressions;
using Ema.Admin.Console;
using Ema.Protocol;
using Ema.Server.Audit;
using Ema.Server.Model;
using Ema.Server.Security;
using Ema.Server.Stores;
using Ema.Tokens.Jose;
using Ema.Tokens.Keys;

namespace Ema.Admin;

/// <summary>A trusted issuer to register: exactly one key location (metadata URL, JWKS URL or an inline JWKS).</summary>
public sealed record TrustIssuerInput(string Issuer, string TenantId, string? MetadataUrl, string? JwksUrl, string? InlineJwks, IReadOnlyList<string>? Algorithms, IReadOnlyList<string>? AllowedClients, bool JitProvisioning = true, string? IssuerTenant = null);

/// <summary>
/// Every change to the authorization server's settings — tenants, trusted issuers, its clients, its resources — in one
/// place for the console, the admin API and <c>ema admin as …</c>: input checked first (a refusal changes nothing), then
/// the change and one audit record naming the admin, stored together or not at all. A client's secret is generated here
/// and returned once.
/// </summary>
public sealed class AuthorizationServerOperations(IAuthorizationServerStore store, TimeProvider time)
{
    // An issuer, metadata or JWKS location, or a resource identifier, exactly as it will be compared and fetched: printable
    // ASCII (an internationalized host in its xn-- form), no user info (HttpClient never sends it; it only misleads),
    // no fragment. Uri alone is not enough: it accepts and silently escapes spaces and control characters, and on Unix
    // it reads "/mcp#x" as a file URI.
    private static bool IsUrl(string? value, bool loopbackHttp)
    {
        if (value is not { Length: > 0 and <= 2048 } || value.Any(c => c is <= ' ' or > '~')
            || !Uri.TryCreate(value, UriKind.Absolute, out var parsed) || parsed.UserInfo.Length > 0 || parsed.Fragment.Length > 0 || value.Contains('#', StringComparison.Ordinal))
        {
            return false;
        }

        return parsed.Scheme == Uri.UriSchemeHttps || (loopbackHttp && parsed.Scheme == Uri.UriSchemeHttp && parsed.IsLoopback);
    }

    public async Task<AdminResult> CreateTenantAsync(ConsoleUser by, string id, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        id = (id ?? string.Empty).Trim();
        if (!AdminInput.IdPattern().IsMatch(id) || !AdminInput.IsText(name, required: true))
        {
            return AdminResult.Refused("A tenant needs an id (letters, digits, '.', '_' or '-') and a name.");
        }

        // Ids and names that differ only in case would look alike in lists and the console's tenant choice.
        var existing = await store.ListTenantsAsync(cancellationToken).ConfigureAwait(false);
        if (existing.Any(t => string.Equals(t.Id, id, StringComparison.OrdinalIgnoreCase) || string.Equals(t.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
            || !await store.CreateTenantAsync(new Tenant(id, name.Trim()), cancellationToken, Record(by, "as_tenant_create", $"created tenant {id}", id)).ConfigureAwait(false))
        {
            return AdminResult.Refused("A tenant with that id or name already exists.");
        }

        return AdminResult.Done($"Created tenant {id}.");
    }

    public async Task<AdminResult> TrustIssuerAsync(ConsoleUser by, TrustIssuerInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        ArgumentNullException.ThrowIfNull(input);
        if (new[] { input.MetadataUrl, input.JwksUrl, input.InlineJwks }.Count(v => !string.IsNullOrWhiteSpace(v)) != 1)
        {
            return AdminResult.Refused("Give exactly one of a metadata URL, a JWKS URL and an inline JWKS.");
        }

        // The issuer is compared exactly with the ID-JAG's iss (decision 6): an https URL without query or fragment
        // (RFC 8414 §2), given exactly — a blank one could be trusted and then never named again to distrust it.
        if (!IsUrl(input.Issuer, loopbackHttp: false) || input.Issuer.Contains('?', StringComparison.Ordinal))
        {
            return AdminResult.Refused($"'{input.Issuer}' is not an absolute https URL without user info, query or fragment.");
        }

        // Keys are fetched over https only.
        foreach (var url in new[] { input.MetadataUrl, input.JwksUrl }.Where(u => !string.IsNullOrWhiteSpace(u)))
        {
            if (!IsUrl(url!.Trim(), loopbackHttp: false))
            {
                return AdminResult.Refused($"'{url}' is not an absolute https URL.");
            }
        }

        if (input.Algorithms?.Any(a => a is null) == true || input.AllowedClients?.Any(c => c is null) == true)
        {
            return AdminResult.Refused("The algorithm and client lists may not hold empty entries.");
        }

        if (!string.IsNullOrWhiteSpace(input.InlineJwks))
        {
            if (AdminInput.HoldsPrivateKeyMaterial(input.InlineJwks))
            {
                // Stored as given, it would keep someone's private key in this database: most likely the wrong file.
                return AdminResult.Refused("The JWKS holds private key material (d, p, q, dp, dq, qi, oth or k): give the issuer's public keys only; nothing was stored.");
            }

            try
            {
                StaticKeySource.FromJwks(input.InlineJwks);
            }
            catch (FormatException ex)
            {
                return AdminResult.Refused(ex.Message);
            }
        }

        IReadOnlyList<string> algorithms = input.Algorithms is { Count: > 0 } given ? [.. given.Select(a => a.Trim())] : SecurityAlgorithms.DefaultAccepted;
        var unsupported = algorithms.Where(a => !JwsAlgorithm.TryGet(a, out _)).ToList();
        if (unsupported.Count > 0)
        {
            return AdminResult.Refused($"Not accepted algorithms: {string.Join(' ', unsupported)} (none and HS* can never be accepted).");
        }

        var clients = input.AllowedClients is { Count: > 0 } list ? list.Select(c => c.Trim()).ToList() : null;
        if (clients?.FirstOrDefault(c => !AdminInput.IdPattern().IsMatch(c)) is { } badClient)
        {
            return AdminResult.Refused($"'{badClient}' is not a client id.");
        }

        var issuerTenant = Blank(input.IssuerTenant)?.Trim();
        if (!AdminInput.IsText(issuerTenant, required: false))
        {
            return AdminResult.Refused("The issuer's tenant must be at most 200 characters, without control or format characters.");
        }

        var registration = new TrustedIssuerRegistration
        {
            Issuer = input.Issuer, TenantId = (input.TenantId ?? string.Empty).Trim(), IssuerTenant = issuerTenant, MetadataUri = Blank(input.MetadataUrl), JwksUri = Blank(input.JwksUrl),
            InlineJwks = Blank(input.InlineJwks), AllowedAlgorithms = algorithms, AllowedClientIds = clients, JitProvisioning = input.JitProvisioning,
        };
        var keys = registration.MetadataUri is { } m ? "metadata " + m : registration.JwksUri is { } j ? "jwks " + j : "inline JWKS";
        var record = Record(by, "as_issuer_trust", $"trusted {registration.Issuer}{(issuerTenant is null ? string.Empty : $" (its tenant {issuerTenant})")} for tenant {registration.TenantId} ({keys}; algs {string.Join(',', algorithms)}; jit {(registration.JitProvisioning ? "on" : "off")})", registration.Issuer);
        if (!await store.CreateTrustedIssuerAsync(registration, cancellationToken, record).ConfigureAwait(false))
        {
            return AdminResult.Refused("That issuer is already trusted, or the tenant does not exist.");
        }

        return AdminResult.Done($"Trusting {registration.Issuer} for tenant {registration.TenantId}.");
    }

    /// <summary>
    /// Distrust (or trust again) an issuer; its accounts stay. Running servers re-read registrations every
    /// <c>IssuerRefreshInterval</c>; access tokens already issued stay valid until they expire.
    /// </summary>
    public async Task<AdminResult> SetIssuerEnabledAsync(ConsoleUser by, string issuer, bool enabled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        if (string.IsNullOrWhiteSpace(issuer)
            || !await store.SetTrustedIssuerEnabledAsync(issuer, enabled, cancellationToken, Record(by, enabled ? "as_issuer_enable" : "as_issuer_disable", $"{(enabled ? "trusted again" : "stopped trusting")} {issuer}", issuer)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"'{issuer}' is not a registered issuer.");
        }

        return AdminResult.Done($"{(enabled ? "Trusting" : "No longer trusting")} {issuer}.");
    }

    /// <summary>A confidential client (decision 14: public clients cannot use the jwt-bearer grant); its secret is returned once.</summary>
    public Task<AdminResult> CreateClientAsync(ConsoleUser by, string clientId, string name, CancellationToken cancellationToken) =>
        CreateClientAsync(by, clientId, name, null, cancellationToken);

    /// <summary>With <paramref name="jwks"/>, a private_key_jwt client (RFC 7523 §2.2; decision 14) verified with those public keys.</summary>
    public Task<AdminResult> CreateClientAsync(ConsoleUser by, string clientId, string name, string? jwks, CancellationToken cancellationToken) =>
        CreateClientAsync(by, clientId, name, jwks, requireDpop: false, cancellationToken);

    /// <summary>The same; with <paramref name="requireDpop"/> only key-bound ID-JAGs are redeemed for this client (ADR 0007).</summary>
    public async Task<AdminResult> CreateClientAsync(ConsoleUser by, string clientId, string name, string? jwks, bool requireDpop, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        clientId = (clientId ?? string.Empty).Trim();
        if (!AdminInput.IdPattern().IsMatch(clientId) || !AdminInput.IsText(name, required: true))
        {
            return AdminResult.Refused("A client needs an id (letters, digits, '.', '_' or '-') and a name.");
        }

        if (jwks is not null && AdminInput.ClientJwksProblem(jwks) is { } jwksProblem)
        {
            return AdminResult.Refused(jwksProblem);
        }

        var secret = jwks is null ? SecretHasher.NewSecret() : null;
        var client = new ClientApplication
        {
            ClientId = clientId, Name = name.Trim(), Jwks = jwks, RequireDpop = requireDpop,
            AuthenticationMethod = jwks is null ? ClientAuthenticationMethods.ClientSecretBasic : ClientAuthenticationMethods.PrivateKeyJwt,
            SecretHash = secret is null ? null : SecretHasher.Hash(secret),
        };
        if (!await store.CreateClientAsync(client, cancellationToken, Record(by, "as_client_create", $"created authorization-server client {clientId} ({client.AuthenticationMethod}{(requireDpop ? ", DPoP required" : string.Empty)})", clientId)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"A client '{clientId}' already exists.");
        }

        return AdminResult.Done(jwks is null ? $"Created client {clientId}." : $"Created client {clientId} (private_key_jwt).", secret);
    }

    public async Task<AdminResult> SetClientEnabledAsync(ConsoleUser by, string clientId, bool enabled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        if (string.IsNullOrWhiteSpace(clientId)
            || !await store.SetClientEnabledAsync(clientId, enabled, cancellationToken, Record(by, enabled ? "as_client_enable" : "as_client_disable", $"{(enabled ? "enabled" : "disabled")} authorization-server client {clientId}", clientId)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"There is no client '{clientId}'.");
        }

        return AdminResult.Done($"{(enabled ? "Enabled" : "Disabled")} client {clientId}.");
    }

    /// <summary>A new secret, returned once; the old one stops working (in other instances within the store cache time).</summary>
    public async Task<AdminResult> RotateClientSecretAsync(ConsoleUser by, string clientId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        if (!string.IsNullOrWhiteSpace(clientId) && await store.FindClientAsync(clientId, cancellationToken).ConfigureAwait(false) is { AuthenticationMethod: ClientAuthenticationMethods.PrivateKeyJwt })
        {
            return AdminResult.Refused($"{clientId} authenticates with keys (private_key_jwt), not a secret: replace its keys instead.");
        }

        var secret = SecretHasher.NewSecret();
        if (string.IsNullOrWhiteSpace(clientId)
            || !await store.SetClientSecretHashAsync(clientId, SecretHasher.Hash(secret), cancellationToken, Record(by, "as_client_rotate_secret", $"rotated the secret of authorization-server client {clientId}", clientId)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"There is no client '{clientId}'.");
        }

        return AdminResult.Done($"Rotated the secret of {clientId}.", secret);
    }

    /// <summary>Turns "DPoP required" on or off for a client: on, only key-bound ID-JAGs are redeemed for it (ADR 0007).</summary>
    public async Task<AdminResult> SetClientRequireDpopAsync(ConsoleUser by, string clientId, bool requireDpop, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        clientId ??= string.Empty;
        return await store.SetClientRequireDpopAsync(clientId, requireDpop, cancellationToken, Record(by, "as_client_require_dpop", $"{(requireDpop ? "required" : "no longer required")} DPoP for authorization-server client {clientId}", clientId)).ConfigureAwait(false)
            ? AdminResult.Done($"{clientId}: DPoP {(requireDpop ? "required — only key-bound ID-JAGs are redeemed" : "no longer required")}.")
            : AdminResult.Refused($"There is no client '{clientId}'.");
    }

    /// <summary>Sets or clears the IdP tenant a trusted issuer's ID-JAGs must carry (ID-JAG §6).</summary>
    public async Task<AdminResult> SetIssuerTenantAsync(ConsoleUser by, string issuer, string? issuerTenant, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        issuer ??= string.Empty;
        var tenant = Blank(issuerTenant)?.Trim();
        if (!AdminInput.IsText(tenant, required: false))
        {
            return AdminResult.Refused("The issuer's tenant must be at most 200 characters, without control or format characters.");
        }

        return await store.SetTrustedIssuerTenantAsync(issuer, tenant, cancellationToken, Record(by, "as_issuer_tenant", tenant is null ? $"{issuer} accepts ID-JAGs of any IdP tenant" : $"{issuer} accepts ID-JAGs of IdP tenant {tenant} only", issuer)).ConfigureAwait(false)
            ? AdminResult.Done(tenant is null ? $"{issuer}: any IdP tenant (running servers: within 30 s)." : $"{issuer}: IdP tenant {tenant} only (running servers: within 30 s).")
            : AdminResult.Refused($"'{issuer}' is not a registered issuer.");
    }

    /// <summary>Replaces a private_key_jwt client's public keys: assertions signed with the old ones stop working.</summary>
    public async Task<AdminResult> ReplaceClientKeysAsync(ConsoleUser by, string clientId, string jwks, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        clientId ??= string.Empty;
        if (AdminInput.ClientJwksProblem(jwks ?? string.Empty) is { } problem)
        {
            return AdminResult.Refused(problem);
        }

        return await store.SetClientJwksAsync(clientId, jwks!, cancellationToken, Record(by, "as_client_keys_replace", $"replaced the keys of authorization-server client {clientId}", clientId)).ConfigureAwait(false)
            ? AdminResult.Done($"Replaced the keys of {clientId}; assertions signed with the old ones no longer work.")
            : AdminResult.Refused($"There is no private_key_jwt client '{clientId}'.");
    }

    public async Task<AdminResult> CreateResourceAsync(ConsoleUser by, string id, string name, string resource, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        ArgumentNullException.ThrowIfNull(scopes);
        id = (id ?? string.Empty).Trim();
        if (!AdminInput.IdPattern().IsMatch(id) || !AdminInput.IsText(name, required: true))
        {
            return AdminResult.Refused("A resource needs an id (letters, digits, '.', '_' or '-') and a name.");
        }

        // RFC 8707 §2: an absolute URI without a fragment — here an MCP server's https URL (http on loopback for
        // development), as its protected-resource metadata names it.
        if (!IsUrl(resource, loopbackHttp: true))
        {
            return AdminResult.Refused("The resource must be an https URL (http only on loopback) without user info or fragment (RFC 8707 §2).");
        }

        // RFC 6749 §3.3: scope tokens are printable ASCII without space, quote or backslash.
        if (scopes.Any(s => s is null))
        {
            return AdminResult.Refused("The scope list may not hold empty entries.");
        }

        if (scopes.FirstOrDefault(s => s.Length == 0 || s.Length > 128 || s.Any(c => c < 0x21 || c > 0x7E || c is '"' or '\\')) is { } badScope)
        {
            return AdminResult.Refused($"'{badScope}' is not a scope (RFC 6749 §3.3).");
        }

        // The token exchange and the policy match a resource with or without a trailing slash: two such would be one.
        var same = (await store.ListResourcesAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(r => string.Equals(r.Resource.TrimEnd('/'), resource.TrimEnd('/'), StringComparison.Ordinal));
        if (same is not null)
        {
            return AdminResult.Refused($"The resource {same.Id} already has that identifier ({same.Resource}).");
        }

        var created = await store.CreateResourceAsync(
            new ProtectedResource { Id = id, Name = name.Trim(), Resource = resource, Scopes = [.. scopes.Distinct(StringComparer.Ordinal).Select(s => new ResourceScope(s))] },
            cancellationToken,
            Record(by, "as_resource_create", $"created authorization-server resource {id} ({resource})", id)).ConfigureAwait(false);
        if (!created)
        {
            return AdminResult.Refused("A resource with that id or identifier already exists.");
        }

        return AdminResult.Done($"Created resource {id}.");
    }

    /// <summary>Stops issuing tokens for a resource (tokens already issued stay valid until they expire).</summary>
    public async Task<AdminResult> RemoveResourceAsync(ConsoleUser by, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(by);
        if (string.IsNullOrWhiteSpace(id) || !await store.DeleteResourceAsync(id, cancellationToken, Record(by, "as_resource_remove", $"removed authorization-server resource {id}", id)).ConfigureAwait(false))
        {
            return AdminResult.Refused($"There is no resource '{id}'.");
        }

        return AdminResult.Done($"Removed resource {id}.");
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    // The change's record, stored with it in one transaction by the store (both or neither: a change whose record cannot
    // be written does not happen, and says so — AuditUnavailableException).
    private AuditEvent Record(ConsoleUser by, string action, string reason, string target) => AdminInput.Record(time, by, action, reason, target);
}
