using Ema.Protocol.Messages;

namespace Ema.Protocol.Tests;

/// <summary>RFC 9396 §2 structure of <c>authorization_details</c>, as the IdP and the authorization server read it.</summary>
public sealed class AuthorizationDetailsTests
{
    [Fact]
    public void ReadTypes_ArrayOfTypedObjects_GivesTheTypesInOrder()
    {
        var types = AuthorizationDetails.ReadTypes("""[{"type":"a","actions":["read"],"locations":["https://x.example"]},{"nested":{"type":"ignored"},"type":"b"}]""", out var problem);
        Assert.Null(problem);
        Assert.Equal(["a", "b"], types);
        Assert.Empty(AuthorizationDetails.ReadTypes("[]", out _)!);
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("  ", "not valid JSON")]
    [InlineData("{\"type\":\"a\"}", "not a JSON array")]
    [InlineData("[\"a\"]", "entry 1 is not a JSON object")]
    [InlineData("[{\"type\":\"a\"},{\"actions\":[]}]", "entry 2: \"type\" is missing")]
    [InlineData("[{\"type\":\"\"}]", "not a non-empty string")]
    [InlineData("[{\"type\":null}]", "not a non-empty string")]
    [InlineData("[{\"type\":\"a\",\"type\":\"a\"}]", "twice")]
    [InlineData("[{\"type\":\"a\"}] []", "not valid JSON")]
    [InlineData("[{\"type\":\"a\"}", "not valid JSON")]
    [InlineData("[{\"type\":\"a\"}]x", "not valid JSON")]
    [InlineData("[{\"type\":\"\\uD800\"}]", "not valid JSON")] // a lone surrogate: refused, never a 500
    [InlineData("[{\"type\":\"a\\uDC00b\"}]", "not valid JSON")]
    public void ReadTypes_NotAnArrayOfTypedObjects_IsAProblemNeverAnException(string json, string expected)
    {
        Assert.Null(AuthorizationDetails.ReadTypes(json, out var problem));
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadTypes_TooManyEntriesOrTooDeep_IsAProblem()
    {
        var many = "[" + string.Join(",", Enumerable.Repeat("{\"type\":\"a\"}", AuthorizationDetails.MaxEntries + 1)) + "]";
        Assert.Null(AuthorizationDetails.ReadTypes(many, out var problem));
        Assert.Contains("more than", problem, StringComparison.Ordinal);

        var deep = "[{\"type\":\"a\",\"x\":" + new string('[', 100) + new string(']', 100) + "}]";
        Assert.Null(AuthorizationDetails.ReadTypes(deep, out problem));
        Assert.NotNull(problem);
    }
}
