using System.Globalization;
using System.Text.RegularExpressions;
using Ema.Admin.Console;
using Ema.Server.Audit;
using Ema.Server.Security;

namespace Ema.Admin;

/// <summary>
/// What every admin change accepts and records, whichever role it changes (<see cref="AdminOperations"/>,
/// <see cref="AuthorizationServerOperations"/>): ids, free text shown to other admins, and the change's audit record.
/// </summary>
internal static partial class AdminInput
{
    public const int MaxText = 200;

    /// <summary>An id: letters and digits, then also '.', '_' and '-'; at most 64 characters.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    public static partial Regex IdPattern();

    /// <summary>
    /// Free text (names, descriptions): present when required, at most <see cref="MaxText"/> characters, and no control
    /// or format characters — no escape sequences, bidirectional overrides or zero-width look-alikes in what other admins read.
    /// </summary>
    public static bool IsText(string? value, bool required) =>
        string.IsNullOrWhiteSpace(value)
            ? !required
            : value.Length <= MaxText && !value.Any(c => char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator);

    /// <summary>The audit record of one admin change, naming the admin (and the session the change came through).</summary>
    public static AuditEvent Record(TimeProvider time, ConsoleUser by, string action, string reason, string? target, string? sessionId = null, string? clientId = null)
    {
        var now = time.GetUtcNow();
        return new AuditEvent { Id = SecretHasher.NewOrderedId("evt_", now), Time = now, Type = AuditEventTypes.AdminChange, Action = action, Outcome = AuditOutcomes.Succeeded, Subject = by.Id, Resource = target, ClientId = clientId, Reason = reason, SessionId = sessionId ?? by.SessionId };
    }

    /// <summary>
    /// A client's public keys for private_key_jwt: a JWK Set document (at most 64 KB) with at least one signature key Ema
    /// can verify with and no private member anywhere (RFC 7518 §6: d, p, q, dp, dq, qi, oth, k). Null when it is usable.
    /// </summary>
    public static string? ClientJwksProblem(string jwks)
    {
        if (jwks.Length > 64 * 1024)
        {
            return "The JWK Set is larger than 64 KB.";
        }

        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(jwks);
            if (document.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object || !document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != System.Text.Json.JsonValueKind.Array)
            {
                return "Not a JWK Set: a JSON object with a \"keys\" array is expected.";
            }

            if (HoldsPrivateKey(keys))
            {
                return "The JWK Set holds a private key: register the public keys only.";
            }
        }
        catch (System.Text.Json.JsonException)
        {
            return "The JWK Set is not valid JSON.";
        }

        // Keys the verifier will use: ES256 (P-256) or RS256/PS256 with RSA of 2048–4096 bits; at most five, each a
        // verification an assertion may cost.
        var parsed = Ema.Tokens.Keys.JwksParser.Parse(System.Text.Encoding.UTF8.GetBytes(jwks)).Keys;
        if (parsed.Count > 5)
        {
            return "At most five keys per client.";
        }

        var accepted = Ema.Protocol.SecurityAlgorithms.DefaultAccepted.Select(Ema.Tokens.Jose.JwsAlgorithm.Get).ToList();
        if (parsed.Any(k => k.RsaBits > 4096))
        {
            return "RSA keys of more than 4096 bits are not accepted for client authentication.";
        }

        return parsed.Count == 0 || !parsed.All(k => accepted.Any(k.IsCompatibleWith))
            ? "Every key must be usable for ES256 (EC P-256) or RS256/PS256 (RSA, 2048–4096 bits)."
            : null;
    }

    /// <summary>
    /// Whether a JWK Set document holds private key material (a key with any of <see cref="Ema.Protocol.JsonWebKeyNames.PrivateMembers"/>):
    /// stored as given, it would keep someone's private key in the database. False for text that is not a JWK Set.
    /// </summary>
    public static bool HoldsPrivateKeyMaterial(string jwks)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(jwks);
            return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && document.RootElement.TryGetProperty("keys", out var keys) && keys.ValueKind == System.Text.Json.JsonValueKind.Array
                && HoldsPrivateKey(keys);
        }
        catch (System.Text.Json.JsonException)
        {
            return false; // not JSON: the JWKS parser refuses it with its own message
        }
    }

    private static bool HoldsPrivateKey(System.Text.Json.JsonElement keys) =>
        keys.EnumerateArray().Any(k => k.ValueKind == System.Text.Json.JsonValueKind.Object && Ema.Protocol.JsonWebKeyNames.PrivateMembers.Any(m => k.TryGetProperty(m, out _)));
}
