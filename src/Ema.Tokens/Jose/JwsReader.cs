using System.Buffers;
using System.Text.Json;
using Ema.Protocol;

namespace Ema.Tokens.Jose;

/// <summary>
/// Reads a compact JWS strictly and without throwing: exactly three strict base64url segments (RFC 7515 §7.1), a
/// header and a claims set that are JSON objects with unique member names (RFC 7515 §4, RFC 7519 §4: "JWT parsers MUST
/// either reject JWTs with duplicate Claim Names" — we reject), registered claims of the right JSON type, and no
/// trailing data. Escaped member names are compared after unescaping, so <c>"\u0069ss"</c> is a duplicate of <c>iss</c>.
/// </summary>
/// <remarks>
/// Header members that name keys (<c>jku</c>, <c>jwk</c>, <c>x5u</c>, <c>x5c</c>) are read past and never used:
/// keys only ever come from the trusted issuer's own key source (decision 4, RFC 8725 §3.10).
/// </remarks>
public static class JwsReader
{
    /// <summary>Default maximum token length in characters; ID-JAGs and access tokens are well under 2 KiB.</summary>
    public const int DefaultMaxLength = 16 * 1024;

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
            return new JwsReadResult(new JwsToken(header.Algorithm, header.Type, header.KeyId, payload, signingInput, signature), JwtReadFailure.None, null, null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private readonly record struct HeaderValues(string? Algorithm, string? Type, string? KeyId, JwtReadFailure Failure, string? Debug);

    private static HeaderValues ReadHeader(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return new(null, null, null, JwtReadFailure.HeaderMalformed, "header is not a JSON object");
            }

            string? alg = null, typ = null, kid = null;
            var critical = false;
            var names = new MemberNameSet();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!names.Add(ref reader))
                {
                    return new(null, null, null, JwtReadFailure.HeaderMalformed, "duplicate header member");
                }

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
                : new(alg, typ, kid, JwtReadFailure.None, null);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return new(null, null, null, JwtReadFailure.HeaderMalformed, "header is not valid JSON");
        }
    }

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

            var names = new MemberNameSet();
            List<string>? others = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!names.Add(ref reader))
                {
                    failedClaim = null;
                    return JwtReadFailure.PayloadMalformed;
                }

                var claim = ReadClaim(ref reader, payload, ref others);
                if (claim is not null)
                {
                    failedClaim = claim;
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

    // Reads one claim value; returns the claim name when its JSON type is wrong, else null.
    private static string? ReadClaim(ref Utf8JsonReader reader, JwtPayload p, ref List<string>? others)
    {
        if (reader.ValueTextEquals(JwtClaimNames.Issuer))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.Issuer = v) : JwtClaimNames.Issuer;
        }

        if (reader.ValueTextEquals(JwtClaimNames.Subject))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.Subject = v) : JwtClaimNames.Subject;
        }

        if (reader.ValueTextEquals(JwtClaimNames.Audience))
        {
            if (!TryReadStringOrArray(ref reader, out var values, out var isArray))
            {
                return JwtClaimNames.Audience;
            }

            p.Audiences = values;
            p.AudienceIsArray = isArray;
            return null;
        }

        if (reader.ValueTextEquals(JwtClaimNames.ExpiresAt))
        {
            return TryReadNumericDate(ref reader, out var v) ? Set(() => p.ExpiresAt = v) : JwtClaimNames.ExpiresAt;
        }

        if (reader.ValueTextEquals(JwtClaimNames.IssuedAt))
        {
            return TryReadNumericDate(ref reader, out var v) ? Set(() => p.IssuedAt = v) : JwtClaimNames.IssuedAt;
        }

        if (reader.ValueTextEquals(JwtClaimNames.NotBefore))
        {
            return TryReadNumericDate(ref reader, out var v) ? Set(() => p.NotBefore = v) : JwtClaimNames.NotBefore;
        }

        if (reader.ValueTextEquals(JwtClaimNames.JwtId))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.JwtId = v) : JwtClaimNames.JwtId;
        }

        if (reader.ValueTextEquals(JwtClaimNames.ClientId))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.ClientId = v) : JwtClaimNames.ClientId;
        }

        if (reader.ValueTextEquals(JwtClaimNames.Scope))
        {
            // RFC 8693 §4.2 / RFC 9068 §2.2.3: scope is one space-delimited JSON string, never an array.
            return TryReadString(ref reader, out var v) ? Set(() => p.Scope = v) : JwtClaimNames.Scope;
        }

        if (reader.ValueTextEquals(JwtClaimNames.Resource))
        {
            return TryReadStringOrArray(ref reader, out var values, out _) ? Set(() => p.Resources = values) : JwtClaimNames.Resource;
        }

        if (reader.ValueTextEquals(JwtClaimNames.Tenant))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.Tenant = v) : JwtClaimNames.Tenant;
        }

        if (reader.ValueTextEquals(JwtClaimNames.AuthTime))
        {
            return TryReadNumericDate(ref reader, out var v) ? Set(() => p.AuthTime = v) : JwtClaimNames.AuthTime;
        }

        if (reader.ValueTextEquals(JwtClaimNames.AuthenticationContextClass))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.Acr = v) : JwtClaimNames.AuthenticationContextClass;
        }

        if (reader.ValueTextEquals(JwtClaimNames.AuthenticationMethods))
        {
            return TryReadStringOrArray(ref reader, out var values, out var isArray) && isArray
                ? Set(() => p.Amr = values)
                : JwtClaimNames.AuthenticationMethods;
        }

        if (reader.ValueTextEquals(JwtClaimNames.Nonce))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.Nonce = v) : JwtClaimNames.Nonce;
        }

        if (reader.ValueTextEquals(JwtClaimNames.SessionId))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.SessionId = v) : JwtClaimNames.SessionId;
        }

        if (reader.ValueTextEquals(JwtClaimNames.Email))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.Email = v) : JwtClaimNames.Email;
        }

        if (reader.ValueTextEquals(JwtClaimNames.AuthorizedParty))
        {
            return TryReadString(ref reader, out var v) ? Set(() => p.AuthorizedParty = v) : JwtClaimNames.AuthorizedParty;
        }

        if (reader.ValueTextEquals(JwtClaimNames.Confirmation))
        {
            return TryReadConfirmation(ref reader, p) ? null : JwtClaimNames.Confirmation;
        }

        (others ??= []).Add(reader.GetString()!);
        reader.Read();
        reader.Skip();
        return null;
    }

    private static string? Set(Action assign)
    {
        assign();
        return null;
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
            return true;
        }

        if (reader.TryGetDouble(out var seconds) && double.IsFinite(seconds) && Math.Abs(seconds) < 1e15)
        {
            value = (long)Math.Floor(seconds);
            return true;
        }

        return false;
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

    /// <summary>Tracks member names of one JSON object (unescaped) to detect duplicates.</summary>
    private struct MemberNameSet
    {
        private HashSet<string>? _names;

        public bool Add(ref Utf8JsonReader reader) => (_names ??= new HashSet<string>(StringComparer.Ordinal)).Add(reader.GetString()!);
    }
}
