using System.Text.Json;
using Ema.Protocol;
using Ema.Tokens.Keys;

namespace Ema.Testing;

/// <summary>
/// DPoP proofs (RFC 9449 §4.2) built from raw parts, so tests can send valid ones and every kind of broken one.
/// </summary>
public static class DpopProofs
{
    /// <summary>The public JWK of <paramref name="key"/> as JSON (no private member).</summary>
    public static string PublicJwk(SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return JsonSerializer.Serialize(key.PublicKey.Jwk, EmaJsonContext.Default.JsonWebKeyDocument);
    }

    /// <summary>
    /// A proof for <paramref name="method"/> <paramref name="url"/> signed by <paramref name="key"/>. Overrides: the header
    /// (alg, typ, jwk JSON — null leaves a member out) and extra or replaced claims (null removes one).
    /// </summary>
    public static string Create(SigningKey key, string method, string url, DateTimeOffset issuedAt, string? jti = null, string? alg = null, string? typ = "dpop+jwt", string? jwkJson = "", IDictionary<string, object?>? claims = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        var header = new List<string> { $"\"alg\":\"{alg ?? key.Algorithm.Name}\"" };
        if (typ is not null)
        {
            header.Add($"\"typ\":\"{typ}\"");
        }

        if (jwkJson is not null)
        {
            header.Add($"\"jwk\":{(jwkJson.Length == 0 ? PublicJwk(key) : jwkJson)}");
        }

        var payload = new Dictionary<string, object?>
        {
            ["jti"] = jti ?? Guid.NewGuid().ToString("N"),
            ["htm"] = method,
            ["htu"] = url,
            ["iat"] = issuedAt.ToUnixTimeSeconds(),
        };
        foreach (var (name, value) in claims ?? new Dictionary<string, object?>())
        {
            if (value is null)
            {
                payload.Remove(name);
            }
            else
            {
                payload[name] = value;
            }
        }

        return RawJwt.Sign("{" + string.Join(",", header) + "}", JsonSerializer.Serialize(payload), key);
    }
}
