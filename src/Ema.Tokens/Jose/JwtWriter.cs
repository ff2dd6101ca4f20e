using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using Ema.Protocol;
using Ema.Tokens.Keys;

namespace Ema.Tokens.Jose;

/// <summary>Writes compact JWS tokens (RFC 7515 §7.1) with a cached header and one signature.</summary>
internal static class JwtWriter
{
    public static string Write<TState>(SigningKey key, string type, TState state, Action<Utf8JsonWriter, TState> writeClaims)
    {
        var payload = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            writeClaims(json, state);
            json.WriteEndObject();
        }

        var header = key.EncodedHeader(type);
        var payloadLength = Base64Url.GetEncodedLength(payload.WrittenCount);
        var inputLength = header.Length + 1 + payloadLength;
        var input = ArrayPool<byte>.Shared.Rent(inputLength);
        var signature = ArrayPool<byte>.Shared.Rent(key.MaxSignatureLength);
        try
        {
            var headerBytes = System.Text.Encoding.ASCII.GetBytes(header, input);
            input[headerBytes] = (byte)'.';
            Base64Url.EncodeToUtf8(payload.WrittenSpan, input.AsSpan(headerBytes + 1), out _, out _);
            var signatureLength = key.Sign(input.AsSpan(0, inputLength), signature);
            var signatureText = Base64Url.GetEncodedLength(signatureLength);
            return string.Create(inputLength + 1 + signatureText, (input, inputLength, signature, signatureLength), static (chars, s) =>
            {
                System.Text.Encoding.ASCII.GetChars(s.input.AsSpan(0, s.inputLength), chars);

                chars[s.inputLength] = '.';
                Base64Url.EncodeToChars(s.signature.AsSpan(0, s.signatureLength), chars[(s.inputLength + 1)..], out _, out _);
            });
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
            CryptographicOperations.ZeroMemory(signature);
            ArrayPool<byte>.Shared.Return(signature);
        }
    }

    /// <summary>A new unguessable <c>jti</c>: 128 random bits, base64url.</summary>
    public static string NewJwtId() => Base64UrlStrict.Encode(RandomNumberGenerator.GetBytes(16));

    public static void WriteStringOrArray(Utf8JsonWriter json, string name, IReadOnlyList<string> values)
    {
        if (values.Count == 1)
        {
            json.WriteString(name, values[0]);
            return;
        }

        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }

    public static void WriteArray(Utf8JsonWriter json, string name, IReadOnlyList<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }

    /// <summary>The registered claims every Ema token carries (RFC 7519 §4.1); callers add the rest.</summary>
    public static void WriteRegisteredClaims(Utf8JsonWriter json, string issuer, string subject, string audience, string jti, DateTimeOffset issuedAt, DateTimeOffset expiresAt)
    {
        json.WriteString(JwtClaimNames.Issuer, issuer);
        json.WriteString(JwtClaimNames.Subject, subject);
        json.WriteString(JwtClaimNames.Audience, audience);
        json.WriteString(JwtClaimNames.JwtId, jti);
        json.WriteNumber(JwtClaimNames.IssuedAt, issuedAt.ToUnixTimeSeconds());
        json.WriteNumber(JwtClaimNames.ExpiresAt, expiresAt.ToUnixTimeSeconds());
    }

    /// <summary>The optional claims every Ema token may carry, each written only when present.</summary>
    public static void WriteOptionalClaims(Utf8JsonWriter json, string? scope, string? tenant, DateTimeOffset? authTime, string? acr, IReadOnlyList<string>? amr, string? email)
    {
        if (!string.IsNullOrEmpty(scope))
        {
            json.WriteString(JwtClaimNames.Scope, scope);
        }

        if (tenant is not null)
        {
            json.WriteString(JwtClaimNames.Tenant, tenant);
        }

        if (authTime is { } at)
        {
            json.WriteNumber(JwtClaimNames.AuthTime, at.ToUnixTimeSeconds());
        }

        if (acr is not null)
        {
            json.WriteString(JwtClaimNames.AuthenticationContextClass, acr);
        }

        if (amr is { Count: > 0 })
        {
            WriteArray(json, JwtClaimNames.AuthenticationMethods, amr);
        }

        if (email is not null)
        {
            json.WriteString(JwtClaimNames.Email, email);
        }
    }
}
