using System.Text;
using System.Text.Json;

namespace Ema.Protocol.Messages;

/// <summary>
/// The structure of RFC 9396 <c>authorization_details</c>, as a token-exchange parameter (a JSON string) or an ID-JAG
/// claim (a JSON value): an array of objects, each with a string <c>type</c> (RFC 9396 §2). One reader for both, so
/// the IdP and the authorization server agree on what is well formed (ID-JAG §4.3.3, §4.4.1: "MUST parse as a JSON
/// array"). What a type means is not read here: a server that supports no type refuses every entry (RFC 9396 §5).
/// </summary>
public static class AuthorizationDetails
{
    /// <summary>More entries than any real request carries; a bound on the work a hostile value can cause.</summary>
    public const int MaxEntries = 64;

    private static readonly JsonReaderOptions Options = new() { MaxDepth = 16 };

    /// <summary>Reads a form parameter's value. Null types and a problem when it is not a well-formed array.</summary>
    public static IReadOnlyList<string>? ReadTypes(string json, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json), Options);
            reader.Read(); // an empty or blank value throws: not valid JSON
            var types = ReadTypes(ref reader, out problem);
            if (types is not null && reader.Read())
            {
                problem = "authorization_details has content after its array";
                return null;
            }

            return types;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string the reader cannot decode (an escaped lone surrogate, "\uD800").
            problem = "authorization_details is not valid JSON";
            return null;
        }
    }

    /// <summary>
    /// Reads the array at the reader's current token (inside a larger document: the reader is left on the array's end).
    /// Returns the entries' types in order, or null and a problem. Throws <see cref="JsonException"/> on invalid JSON.
    /// </summary>
    public static IReadOnlyList<string>? ReadTypes(ref Utf8JsonReader reader, out string? problem)
    {
        problem = null;
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            problem = "authorization_details is not a JSON array (RFC 9396 §2)";
            return null;
        }

        var types = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                problem = $"authorization_details entry {types.Count + 1} is not a JSON object";
                return null;
            }

            if (types.Count == MaxEntries)
            {
                problem = $"authorization_details has more than {MaxEntries} entries";
                return null;
            }

            var type = ReadEntryType(ref reader, out problem);
            if (type is null)
            {
                problem = $"authorization_details entry {types.Count + 1}: {problem}";
                return null;
            }

            types.Add(type);
        }

        return types;
    }

    // Reads one entry object (the reader on its start) up to its end; its "type" member is required, a non-empty
    // string, once (RFC 9396 §2); the other members belong to the type's definition and are skipped here.
    private static string? ReadEntryType(ref Utf8JsonReader reader, out string? problem)
    {
        problem = null;
        string? type = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isType = reader.ValueTextEquals(OAuthParameters.AuthorizationDetailType);
            reader.Read();
            if (!isType)
            {
                reader.Skip();
                continue;
            }

            if (type is not null)
            {
                problem = "\"type\" appears twice";
                return null;
            }

            if (reader.TokenType != JsonTokenType.String || reader.GetString() is not { Length: > 0 } value)
            {
                problem = "\"type\" is not a non-empty string";
                return null;
            }

            type = value;
        }

        if (type is null)
        {
            problem = "\"type\" is missing";
        }

        return type;
    }
}
