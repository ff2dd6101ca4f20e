using System.Net.Http.Headers;
using Ema.Protocol;

namespace Ema.Client.Discovery;

/// <summary>The parameters of a <c>WWW-Authenticate: Bearer</c> challenge (RFC 6750 §3; RFC 9728 §5.1).</summary>
internal sealed record BearerChallenge(string? Error, string? Scope, string? ResourceMetadata)
{
    public static BearerChallenge? From(HttpResponseHeaders headers)
    {
        foreach (var value in headers.WwwAuthenticate)
        {
            if (string.Equals(value.Scheme, HeaderValues.BearerScheme, StringComparison.OrdinalIgnoreCase))
            {
                var parameters = ParseParameters(value.Parameter ?? string.Empty);
                return new BearerChallenge(
                    parameters.GetValueOrDefault(BearerChallengeParameters.Error),
                    parameters.GetValueOrDefault(BearerChallengeParameters.Scope),
                    parameters.GetValueOrDefault(BearerChallengeParameters.ResourceMetadata));
            }
        }

        return null;
    }

    /// <summary>RFC 9110 §11.2 auth-params: <c>name=token</c> or <c>name="quoted \" string"</c>, comma separated.</summary>
    internal static Dictionary<string, string> ParseParameters(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i])))
            {
                i++;
            }

            var nameStart = i;
            while (i < text.Length && text[i] != '=' && text[i] != ',')
            {
                i++;
            }

            var name = text[nameStart..i].Trim();
            if (i >= text.Length || text[i] != '=')
            {
                continue;
            }

            i++;
            while (i < text.Length && text[i] == ' ')
            {
                i++;
            }

            string value;
            if (i < text.Length && text[i] == '"')
            {
                var builder = new System.Text.StringBuilder();
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }

                    builder.Append(text[i]);
                    i++;
                }

                i++; // closing quote
                value = builder.ToString();
            }
            else
            {
                var valueStart = i;
                while (i < text.Length && text[i] != ',')
                {
                    i++;
                }

                value = text[valueStart..i].Trim();
            }

            if (name.Length > 0)
            {
                result.TryAdd(name, value);
            }
        }

        return result;
    }
}
