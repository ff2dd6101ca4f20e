using System.Text.Json;
using System.Text.Json.Serialization;
using Ema.Client;
using Ema.Client.Session;
using Ema.Protocol;
using Microsoft.AspNetCore.DataProtection;

namespace Ema.Cli;

/// <summary>One client registration as stored in the profile; the secret is encrypted with the profile's key ring.</summary>
internal sealed class StoredCredentials
{
    [JsonPropertyName("clientId")]
    public string ClientId { get; set; } = string.Empty;

    [JsonPropertyName("method")]
    public string Method { get; set; } = ClientAuthenticationMethods.ClientSecretBasic;

    /// <summary>Data Protection ciphertext of the secret (never the secret itself).</summary>
    [JsonPropertyName("protectedSecret")]
    public string? ProtectedSecret { get; set; }
}

/// <summary>A server listed in the profile besides the IdP's catalog.</summary>
internal sealed class StoredServer
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = string.Empty;

    [JsonPropertyName("resource")]
    public string Resource { get; set; } = string.Empty;

    [JsonPropertyName("scopes")]
    public List<string>? Scopes { get; set; }
}

/// <summary>
/// The <c>ema</c> client's profile folder (default <c>~/.config/ema</c>, or <c>--profile</c>, or <c>EMA_PROFILE</c>):
/// <c>client.json</c> (which IdP, which registrations, which extra servers, which CA to trust; mode 600, secrets
/// encrypted with Data Protection), the encrypted session and the key ring (folder mode 700).
/// </summary>
internal sealed class ClientProfile
{
    private const string FileName = "client.json";
    private const string SecretPurpose = "Ema.Cli.ClientProfile.Secret.v1";

    [JsonPropertyName("identityProvider")]
    public string IdentityProvider { get; set; } = string.Empty;

    [JsonPropertyName("identityProviderClient")]
    public StoredCredentials IdentityProviderClient { get; set; } = new();

    [JsonPropertyName("authorizationServers")]
    public Dictionary<string, StoredCredentials> AuthorizationServers { get; set; } = new(StringComparer.Ordinal);

    [JsonPropertyName("servers")]
    public List<StoredServer> Servers { get; set; } = [];

    [JsonPropertyName("useCatalog")]
    public bool UseCatalog { get; set; } = true;

    /// <summary>Bind ID-JAGs to a key held in memory (<see cref="EmaClientOptions.UseDpop"/>).</summary>
    public bool UseDpop { get; set; }

    /// <summary>A CA certificate file trusted besides the system roots (e.g. a local Ema's generated CA; decision 22).</summary>
    [JsonPropertyName("trustedCaFile")]
    public string? TrustedCaFile { get; set; }

    public static string DefaultDirectory() =>
        Environment.GetEnvironmentVariable("EMA_PROFILE") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.Create), "ema");

    public static ClientProfile? Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllBytes(path), ProfileJson.Default.ClientProfile) : null;
    }

    public void Save(string directory)
    {
        _ = new EnterpriseSessionStore(directory); // creates the folder and key ring with owner-only modes
        var path = Path.Combine(directory, FileName);
        PrivateFile.WriteAllText(path, JsonSerializer.Serialize(this, ProfileJson.Default.ClientProfile));
    }

    public static string Protect(string directory, string secret) => Protector(directory).Protect(secret);

    /// <summary>The Ema client's options, secrets decrypted with this machine's key ring.</summary>
    public EmaClientOptions ToOptions(string directory)
    {
        var protector = Protector(directory);
        ClientCredentials Unprotect(StoredCredentials stored)
        {
            try
            {
                return new ClientCredentials(stored.ClientId, stored.ProtectedSecret is null ? null : protector.Unprotect(stored.ProtectedSecret), stored.Method);
            }
            catch (System.Security.Cryptography.CryptographicException ex)
            {
                throw new InvalidOperationException($"The client secret for '{stored.ClientId}' in {Path.Combine(directory, FileName)} cannot be decrypted on this machine; run ema login with the client options again.", ex);
            }
        }

        var options = new EmaClientOptions
        {
            IdentityProvider = IdentityProvider,
            IdentityProviderClient = Unprotect(IdentityProviderClient),
            UseCatalog = UseCatalog,
            UseDpop = UseDpop,
        };
        foreach (var (issuer, credentials) in AuthorizationServers)
        {
            options.AuthorizationServerClients[issuer] = Unprotect(credentials);
        }

        foreach (var server in Servers)
        {
            options.Servers.Add(new EmaServer(server.Name, server.Resource, null, server.Scopes));
        }

        return options;
    }

    private static IDataProtector Protector(string directory) =>
        DataProtectionProvider.Create(new DirectoryInfo(Path.Combine(directory, "keys")), b => b.SetApplicationName("ema-client")).CreateProtector(SecretPurpose);
}

[JsonSerializable(typeof(ClientProfile))]
[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class ProfileJson : JsonSerializerContext;
