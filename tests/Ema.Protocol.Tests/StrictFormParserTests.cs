using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace Ema.Protocol.Tests;

/// <summary>RFC 6749 §3.2 and Appendix B: the token endpoint's form parser.</summary>
public sealed class StrictFormParserTests
{
    private static FormParseResult Parse(string body, FormParserOptions? options = null) => StrictFormParser.Parse(Encoding.UTF8.GetBytes(body), options);

    private static void AssertRejected(FormParseResult result, ErrorDescriptor expected)
    {
        Assert.False(result.IsSuccess);
        Assert.Equal(expected.Id, result.Error!.ErrorId);
        Assert.Equal(ErrorCodes.InvalidRequest, result.Error.Code);
    }

    [Fact]
    public void Form_TokenExchangeBody_IsParsedAndDecoded()
    {
        var result = Parse("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&scope=tickets.read+tickets.write&audience=https%3A%2F%2Fas.example%2F&resource=https://mcp.example/mcp");

        Assert.True(result.IsSuccess);
        var form = result.Parameters!;
        Assert.Equal(GrantTypes.TokenExchange, form[OAuthParameters.GrantType]);
        Assert.Equal("tickets.read tickets.write", form[OAuthParameters.Scope]);
        Assert.Equal("https://as.example/", form[OAuthParameters.Audience]);
        Assert.Equal("https://mcp.example/mcp", form[OAuthParameters.Resource]);
    }

    [Theory]
    [InlineData("grant_type=a&grant_type=b")]
    [InlineData("client_id=x&client_id=x")]
    [InlineData("scope=&scope=admin")]
    [InlineData("assertion=a&assertion=")]
    [InlineData("grant_typ%65=a&grant_type=b")]
    public void Form_RepeatedParameter_IsRejected(string body) => AssertRejected(Parse(body), ErrorIds.FormRepeatedParameter);

    [Fact]
    public void Form_RepeatedResource_IsAllowed()
    {
        // RFC 8707 §2: a client may send several resource parameters.
        var result = Parse("resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example");
        Assert.True(result.IsSuccess);
        Assert.Equal(["https://a.example", "https://b.example"], result.Parameters!.GetAll(OAuthParameters.Resource));
    }

    [Fact]
    public void Form_RepeatedParameterError_NamesParameterButNotValue()
    {
        var result = Parse("client_secret=s3cret-one&client_secret=s3cret-two");
        Assert.Contains("client_secret", result.Error!.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", result.Error.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", result.Error.Debug ?? string.Empty, StringComparison.Ordinal);
    }

    [Fact]
    public void Form_Oversized_IsRejectedBeforeParsing() =>
        AssertRejected(Parse("a=" + new string('x', 70_000)), ErrorIds.FormBodyTooLarge);

    [Fact]
    public void Form_TooManyParameters_IsRejected() =>
        AssertRejected(Parse(string.Join('&', Enumerable.Range(0, 100).Select(i => $"p{i}=v"))), ErrorIds.FormTooManyParameters);

    [Theory]
    [InlineData("a=%")]
    [InlineData("a=%4")]
    [InlineData("a=%zz")]
    [InlineData("a%=b")]
    public void Form_BadPercentEscape_IsRejected(string body) => AssertRejected(Parse(body), ErrorIds.FormMalformedEncoding);

    [Fact]
    public void Form_InvalidUtf8_IsRejected() => AssertRejected(Parse("a=%C3%28"), ErrorIds.FormInvalidUtf8);

    [Theory]
    [InlineData("=value")]
    [InlineData("a=1&=2")]
    public void Form_EmptyName_IsRejected(string body) => AssertRejected(Parse(body), ErrorIds.FormEmptyParameterName);

    [Fact]
    public void Form_EmptyValue_IsTreatedAsOmitted()
    {
        // RFC 6749 §3.1: parameters sent without a value MUST be treated as if they were omitted.
        var result = Parse("scope=&grant_type=x&flag");
        Assert.True(result.IsSuccess);
        Assert.Null(result.Parameters!["scope"]);
        Assert.False(result.Parameters.Contains("flag"));
        Assert.Equal("x", result.Parameters["grant_type"]);
    }

    [Fact]
    public void Form_EmptyPairs_AreSkipped()
    {
        var result = Parse("&&a=1&&b=2&");
        Assert.True(result.IsSuccess);
        Assert.Equal(2, result.Parameters!.Count);
    }

    [Fact]
    public void Form_EncodeThenParse_RoundTrips()
    {
        Prop.ForAll<NonEmptyString, string>((name, value) =>
        {
            var n = name.Get;
            var v = value ?? string.Empty;
            if (v.Length == 0 || HasLoneSurrogate(n) || HasLoneSurrogate(v))
            {
                return true;
            }

            var result = StrictFormParser.Parse(Encoding.UTF8.GetBytes(StrictFormParser.Encode([new(n, v)])));
            return result.IsSuccess && result.Parameters![n] == v;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Form_ArbitraryBytes_NeverThrow()
    {
        Prop.ForAll<byte[]>(bytes =>
        {
            var result = StrictFormParser.Parse(bytes ?? []);
            return result.IsSuccess || result.Error is not null;
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded", true)]
    [InlineData("application/x-www-form-urlencoded; charset=UTF-8", true)]
    [InlineData("Application/X-WWW-Form-UrlEncoded", true)]
    [InlineData("application/json", false)]
    [InlineData("multipart/form-data", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void ContentType_OnlyFormIsAccepted(string? contentType, bool expected) =>
        Assert.Equal(expected, StrictFormParser.IsFormContentType(contentType));

    private static bool HasLoneSurrogate(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && (i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1])))
            {
                return true;
            }

            if (char.IsLowSurrogate(s[i]) && (i == 0 || !char.IsHighSurrogate(s[i - 1])))
            {
                return true;
            }
        }

        return false;
    }
}
