using System.Text.Json;

namespace Ema.Client.SignIn;

/// <summary>
/// Reads a JWT's claims without verifying it. The client uses this only for tokens it received directly from the
/// token endpoint over TLS (OIDC Core §3.1.3.7 step 6 allows TLS server validation in place of the signature check),
/// and for an ID-JAG it is not the audience of (spec §2(a)27: read, never trusted).
/// </summary>
internal static class JwtPayload
{
    public static JsonElement Read(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            throw new EmaProtocolException("The token is not a compact JWT.");
        }

        try
        {
            var segment = parts[1].Replace('-', '+').Replace('_', '/');
            segment = segment.PadRight(segment.Length + ((4 - (segment.Length % 4)) % 4), '=');
            using var document = JsonDocument.Parse(Convert.FromBase64String(segment));
            return document.RootElement.Clone();
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            throw new EmaProtocolException("The token's claims are not valid base64url JSON.", ex);
        }
    }

    public static string? String(JsonElement claims, string name) =>
        claims.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static DateTimeOffset? Time(JsonElement claims, string name) =>
        claims.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    public static bool AudienceContains(JsonElement claims, string audience) =>
        claims.TryGetProperty(Ema.Protocol.JwtClaimNames.Audience, out var aud) && (aud.ValueKind == JsonValueKind.String
            ? aud.GetString() == audience
            : aud.ValueKind == JsonValueKind.Array && aud.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString() == audience));
}
