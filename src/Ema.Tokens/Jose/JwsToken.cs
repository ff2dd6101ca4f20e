namespace Ema.Tokens.Jose;

/// <summary>A compact JWS read by <see cref="JwsReader"/>: header members, claims, and what the signature covers.</summary>
public sealed class JwsToken
{
    internal JwsToken(string? algorithm, string? type, string? keyId, JwtPayload payload, ReadOnlyMemory<char> signingInput, byte[] signature)
    {
        Algorithm = algorithm;
        Type = type;
        KeyId = keyId;
        Payload = payload;
        SigningInput = signingInput;
        Signature = signature;
    }

    /// <summary>Header <c>alg</c>.</summary>
    public string? Algorithm { get; }

    /// <summary>Header <c>typ</c>.</summary>
    public string? Type { get; }

    /// <summary>Header <c>kid</c>.</summary>
    public string? KeyId { get; }

    /// <summary>Claims.</summary>
    public JwtPayload Payload { get; }

    /// <summary>The ASCII text the signature covers (<c>BASE64URL(header) '.' BASE64URL(payload)</c>, RFC 7515 §5.2).</summary>
    public ReadOnlyMemory<char> SigningInput { get; }

    /// <summary>Decoded signature bytes.</summary>
    public byte[] Signature { get; }

    /// <summary>
    /// The header's <c>jwk</c> member as JSON text, for DPoP proofs only (RFC 9449 §4.2). Never a key to verify an
    /// assertion with: those come from the issuer's key source (RFC 8725 §3.10).
    /// </summary>
    public string? EmbeddedJwk { get; init; }
}

/// <summary>Outcome of <see cref="JwsReader.Read"/>.</summary>
public readonly record struct JwsReadResult(JwsToken? Token, JwtReadFailure Failure, string? FailedClaim, string? Debug)
{
    /// <summary>True when the token was read.</summary>
    public bool IsSuccess => Token is not null;
}
