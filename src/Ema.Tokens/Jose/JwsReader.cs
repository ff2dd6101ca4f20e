using System.Buffers;
using System.Text.Json;
using Ema.Protocol;
using Ema.Protocol.Messages;

namespace Ema.Tokens.Jose;

/// <summary>
/// Reads a compact JWS strictly and without throwing: exactly three strict base64url segments (RFC 7515 §7.1), a
/// header and a claims set that are JSON objects with unique member names (RFC 7515 §4, RFC 7519 §4: "JWT parsers MUST
/// either reject JWTs with duplicate Claim Names" — we reject), registered claims of the right JSON type, and no
/// trailing data. Escaped member names are compared after unescaping, so <c>"\u0069ss"</c> is a duplicate of <c>iss</c>.
/// </summary>
/// <remarks>
/// Header members that name keys (<c>jku</c>, <c>jwk</c>, <c>x5u</c>, <c>x5c</c>) are never used to verify an assertion:
/// keys only ever come from the trusted issuer's own key source (decision 4, RFC 8725 §3.10). The <c>jwk</c> member is
/// kept as text (<see cref="JwsToken.EmbeddedJwk"/>) for DPoP proofs, which are self-signed by design.
/// </remarks>
public static class JwsReader
{
    /// <summary>Default maximum token length in characters; ID-JAGs and access tokens are well under 2 KiB.</summary>
    public const int DefaultMaxLength = 16 * 1024;

    private const long MinUnixSeconds = -62_135_596_800; // 0001-01-01T00:00:00Z
    private const long MaxUnixSeconds = 253_402_300_799; // 9999-12-31T23:59:59Z

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        MaxDepth = 16,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>Reads <paramref name="token"/>; never throws for any input.</summary>
    public static JwsReadResult Read(string? token, int maxLength = DefaultMaxLength)
    {
        if (string.IsNullOrEmpty(token))
        {
            return Fail(JwtReadFailure.Malformed, "empty");
        }

        if (token.Length > maxLength)
        {
            return Fail(JwtReadFailure.TooLarge, $"length={token.Length}");
        }

        var text = token.AsSpan();
        var first = text.IndexOf('.');
        var dots = text.Count('.');
        if (dots == 4)
        {
            return Fail(JwtReadFailure.Encrypted, "five segments (JWE)");
        }

        if (dots != 2)
        {
            return Fail(JwtReadFailure.Malformed, $"segments={dots + 1}");
        }

        var second = first + 1 + text[(first + 1)..].IndexOf('.');
        var headerText = text[..first];
        var payloadText = text[(first + 1)..second];
        var signatureText = text[(second + 1)..];
        if (headerText.IsEmpty || payloadText.IsEmpty)
        {
            return Fail(JwtReadFailure.Malformed, "empty header or payload");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Base64UrlStrict.MaxDecodedLength(Math.Max(headerText.Length, payloadText.Length)));
        try
        {
            var headerLength = Base64UrlStrict.Decode(headerText, buffer);
            if (headerLength < 0)
            {
                return Fail(JwtReadFailure.Malformed, "header is not strict base64url");
            }

            var header = ReadHeader(buffer.AsSpan(0, headerLength));
            if (header.Failure != JwtReadFailure.None)
            {
                return Fail(header.Failure, header.Debug);
            }

            var payloadLength = Base64UrlStrict.Decode(payloadText, buffer);
            if (payloadLength < 0)
            {
                return Fail(JwtReadFailure.Malformed, "payload is not strict base64url");
            }

            var payload = new JwtPayload();
            var claimsFailure = ReadPayload(buffer.AsSpan(0, payloadLength), payload, out var failedClaim);
            if (claimsFailure != JwtReadFailure.None)
            {
                return new JwsReadResult(null, claimsFailure, failedClaim, failedClaim is null ? "claims set" : $"claim {failedClaim}");
            }

            var signature = new byte[Base64UrlStrict.MaxDecodedLength(signatureText.Length)];
            var signatureLength = Base64UrlStrict.Decode(signatureText, signature);
            if (signatureLength < 0)
            {
                return Fail(JwtReadFailure.Malformed, "signature is not strict base64url");
            }

            if (signatureLength != signature.Length)
            {
                Array.Resize(ref signature, signatureLength);
            }

            var signingInput = token.AsMemory(0, second);
            return new JwsReadResult(new JwsToken(header.Algorithm, header.Type, header.KeyId, payload, signingInput, signature) { EmbeddedJwk = header.Jwk }, JwtReadFailure.None, null, null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private readonly record struct HeaderValues(string? Algorithm, string? Type, string? KeyId, JwtReadFailure Failure, string? Debug, string? Jwk = null);

    private static HeaderValues ReadHeader(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return new(null, null, null, JwtReadFailure.HeaderMalformed, "header is not a JSON object");
            }

            string? alg = null, typ = null, kid = null, jwk = null;
            var critical = false;
            var seen = 0;
            HashSet<string>? others = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var bit = reader.ValueTextEquals(JoseHeaderNames.Algorithm) ? 1
                    : reader.ValueTextEquals(JoseHeaderNames.Type) ? 2
                    : reader.ValueTextEquals(JoseHeaderNames.KeyId) ? 4
                    : reader.ValueTextEquals(JoseHeaderNames.Critical) ? 8
                    : 0;
                if (bit != 0 ? (seen & bit) != 0 : !(others ??= new HashSet<string>(StringComparer.Ordinal)).Add(reader.GetString()!))
                {
                    return new(null, null, null, JwtReadFailure.HeaderMalformed, "duplicate header member");
                }

                seen |= bit;
                if (reader.ValueTextEquals(JoseHeaderNames.Algorithm))
                {
                    if (!TryReadString(ref reader, out alg))
                    {
                        return new(null, null, null, JwtReadFailure.HeaderMalformed, "alg is not a string");
                    }
                }
                else if (reader.ValueTextEquals(JoseHeaderNames.Type))
                {
                    if (!TryReadString(ref reader, out typ))
                    {
                        return new(null, null, null, JwtReadFailure.HeaderMalformed, "typ is not a string");
                    }
                }
                else if (reader.ValueTextEquals(JoseHeaderNames.KeyId))
                {
                    if (!TryReadString(ref reader, out kid))
                    {
                        return new(null, null, null, JwtReadFailure.HeaderMalformed, "kid is not a string");
                    }
                }
                else if (reader.ValueTextEquals(JoseHeaderNames.Critical))
                {
                    critical = true;
                    reader.Read();
                    reader.Skip();
                }
                else if (reader.ValueTextEquals(JoseHeaderNames.Encryption))
                {
                    return new(null, null, null, JwtReadFailure.Encrypted, "enc header member");
                }
                else if (reader.ValueTextEquals(JoseHeaderNames.Jwk))
                {
                    // Kept as text for the one reader that needs it — a DPoP proof is signed by the key it carries (RFC
                    // 9449 §4.2). Every assertion validator ignores it: their keys come from the issuer (RFC 8725 §3.10).
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        return new(null, null, null, JwtReadFailure.HeaderMalformed, "jwk is not an object");
                    }

                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    jwk = System.Text.Encoding.UTF8.GetString(json[start..(int)reader.BytesConsumed]);
                }
                else
                {
                    // jku, jwk, x5u, x5c and any other member: read past, never used (RFC 8725 §3.10).
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return new(null, null, null, JwtReadFailure.HeaderMalformed, "trailing data after header");
            }

            // RFC 7515 §4.1.11: Ema understands no header extensions, so any crit means "reject".
            return critical
                ? new(null, null, null, JwtReadFailure.CriticalHeader, "crit present")
                : new(alg, typ, kid, JwtReadFailure.None, null, jwk);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return new(null, null, null, JwtReadFailure.HeaderMalformed, "header is not valid JSON");
        }
    }

    // Registered claims Ema reads; their position is their bit in the duplicate-detection mask.
    private static readonly string[] KnownClaims =
    [
        JwtClaimNames.Issuer, JwtClaimNames.Subject, JwtClaimNames.Audience, JwtClaimNames.ExpiresAt, JwtClaimNames.IssuedAt,
        JwtClaimNames.NotBefore, JwtClaimNames.JwtId, JwtClaimNames.ClientId, JwtClaimNames.Scope, JwtClaimNames.Resource,
        JwtClaimNames.Tenant, JwtClaimNames.AuthTime, JwtClaimNames.AuthenticationContextClass, JwtClaimNames.AuthenticationMethods,
        JwtClaimNames.Nonce, JwtClaimNames.SessionId, JwtClaimNames.Email, JwtClaimNames.AuthorizedParty, JwtClaimNames.Confirmation,
        JwtClaimNames.AuthorizationDetails, JwtClaimNames.HttpMethod, JwtClaimNames.HttpUri, JwtClaimNames.DpopAccessTokenHash,
    ];

    private static JwtReadFailure ReadPayload(ReadOnlySpan<byte> json, JwtPayload payload, out string? failedClaim)
    {
        failedClaim = null;
        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return JwtReadFailure.PayloadMalformed;
            }

            var seen = 0UL;
            HashSet<string>? others = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var index = KnownClaimIndex(ref reader);
                if (index < 0)
                {
                    // ValueTextEquals and GetString both unescape, so "\u0073ub" is "sub" and a duplicate is caught.
                    if (!(others ??= new HashSet<string>(StringComparer.Ordinal)).Add(reader.GetString()!))
                    {
                        return JwtReadFailure.PayloadMalformed;
                    }

                    reader.Read();
                    reader.Skip();
                    continue;
                }

                var bit = 1UL << index;
                if ((seen & bit) != 0)
                {
                    return JwtReadFailure.PayloadMalformed;
                }

                seen |= bit;
                if (!ReadKnownClaim(ref reader, index, payload))
                {
                    failedClaim = KnownClaims[index];
                    return JwtReadFailure.ClaimType;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return JwtReadFailure.PayloadMalformed;
            }

            payload.OtherClaimNames = (IReadOnlyCollection<string>?)others ?? [];
            return JwtReadFailure.None;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            return JwtReadFailure.PayloadMalformed;
        }
    }

    private static int KnownClaimIndex(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < KnownClaims.Length; i++)
        {
            if (reader.ValueTextEquals(KnownClaims[i]))
            {
                return i;
            }
        }

        return -1;
    }

    // Reads the value of known claim <paramref name="index"/>; false when its JSON type is wrong.
    private static bool ReadKnownClaim(ref Utf8JsonReader reader, int index, JwtPayload p)
    {
        string? text;
        long number;
        IReadOnlyList<string>? values;
        bool isArray;
        switch (index)
        {
            case 0: if (!TryReadString(ref reader, out text)) { return false; } p.Issuer = text; return true;
            case 1: if (!TryReadString(ref reader, out text)) { return false; } p.Subject = text; return true;
            case 2:
                if (!TryReadStringOrArray(ref reader, out values, out isArray)) { return false; }
                p.Audiences = values;
                p.AudienceIsArray = isArray;
                return true;
            case 3: if (!TryReadNumericDate(ref reader, out number)) { return false; } p.ExpiresAt = number; return true;
            case 4: if (!TryReadNumericDate(ref reader, out number)) { return false; } p.IssuedAt = number; return true;
            case 5: if (!TryReadNumericDate(ref reader, out number)) { return false; } p.NotBefore = number; return true;
            case 6: if (!TryReadString(ref reader, out text)) { return false; } p.JwtId = text; return true;
            case 7: if (!TryReadString(ref reader, out text)) { return false; } p.ClientId = text; return true;

            // RFC 8693 §4.2 / RFC 9068 §2.2.3: scope is one space-delimited JSON string, never an array.
            case 8: if (!TryReadString(ref reader, out text)) { return false; } p.Scope = text; return true;
            case 9: if (!TryReadStringOrArray(ref reader, out values, out _)) { return false; } p.Resources = values; return true;
            case 10: if (!TryReadString(ref reader, out text)) { return false; } p.Tenant = text; return true;
            case 11: if (!TryReadNumericDate(ref reader, out number)) { return false; } p.AuthTime = number; return true;
            case 12: if (!TryReadString(ref reader, out text)) { return false; } p.Acr = text; return true;
            case 13:
                if (!TryReadStringOrArray(ref reader, out values, out isArray) || !isArray) { return false; }
                p.Amr = values;
                return true;
            case 14: if (!TryReadString(ref reader, out text)) { return false; } p.Nonce = text; return true;
            case 15: if (!TryReadString(ref reader, out text)) { return false; } p.SessionId = text; return true;
            case 16: if (!TryReadString(ref reader, out text)) { return false; } p.Email = text; return true;
            case 17: if (!TryReadString(ref reader, out text)) { return false; } p.AuthorizedParty = text; return true;
            case 18: return TryReadConfirmation(ref reader, p);
            case 19:
                // ID-JAG §4.4.1: MUST parse as a JSON array (RFC 9396 §2); what the types mean is the validator's call.
                reader.Read();
                p.AuthorizationDetailTypes = AuthorizationDetails.ReadTypes(ref reader, out _);
                return p.AuthorizationDetailTypes is not null;
            case 20: if (!TryReadString(ref reader, out text)) { return false; } p.HttpMethod = text; return true;
            case 21: if (!TryReadString(ref reader, out text)) { return false; } p.HttpUri = text; return true;
            default: if (!TryReadString(ref reader, out text)) { return false; } p.AccessTokenHash = text; return true;
        }
    }

    private static bool TryReadString(ref Utf8JsonReader reader, out string? value)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.String)
        {
            value = null;
            return false;
        }

        value = reader.GetString();
        return true;
    }

    private static bool TryReadStringOrArray(ref Utf8JsonReader reader, out IReadOnlyList<string>? values, out bool isArray)
    {
        reader.Read();
        isArray = false;
        values = null;
        if (reader.TokenType == JsonTokenType.String)
        {
            values = [reader.GetString()!];
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        isArray = true;
        var list = new List<string>(2);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String || list.Count >= 64)
            {
                return false;
            }

            list.Add(reader.GetString()!);
        }

        values = list;
        return true;
    }

    // RFC 7519 §2 NumericDate: a JSON number of seconds, possibly non-integer. Strings are refused.
    private static bool TryReadNumericDate(ref Utf8JsonReader reader, out long value)
    {
        reader.Read();
        value = 0;
        if (reader.TokenType != JsonTokenType.Number)
        {
            return false;
        }

        if (reader.TryGetInt64(out value))
        {
            return IsRepresentable(value);
        }

        if (reader.TryGetDouble(out var seconds) && double.IsFinite(seconds) && Math.Abs(seconds) < 1e15)
        {
            value = (long)Math.Floor(seconds);
            return IsRepresentable(value);
        }

        return false;

        // Dates outside years 1–9999 are refused here, so later DateTimeOffset conversions cannot throw.
        static bool IsRepresentable(long seconds) => seconds is >= MinUnixSeconds and <= MaxUnixSeconds;
    }

    private static bool TryReadConfirmation(ref Utf8JsonReader reader, JwtPayload payload)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        payload.HasConfirmation = true;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals(JwtClaimNames.JwkThumbprint))
            {
                if (!TryReadString(ref reader, out var jkt))
                {
                    return false;
                }

                payload.ConfirmationJkt = jkt;
            }
            else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }

        return true;
    }

    private static JwsReadResult Fail(JwtReadFailure failure, string? debug) => new(null, failure, null, debug);
}
