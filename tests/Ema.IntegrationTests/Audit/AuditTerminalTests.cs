using System.Net;
using System.Text;
using Ema.Cli;
using Ema.IntegrationTests.Infrastructure;

namespace Ema.IntegrationTests.Audit;

/// <summary>What reaches an operator's terminal from the outside is shown, never acted on.</summary>
public sealed class AuditTerminalTests
{
    [Theory]
    [InlineData("x\u001B[2K\r#4242 forged", "x\\u{001B}[2K\\u{000D}#4242 forged")]
    [InlineData("admin\u202Egnp.exe", "admin\\u{202E}gnp.exe")] // a right-to-left override reorders what is shown
    [InlineData("two\nlines", "two\\u{000A}lines")]
    [InlineData("plain client-id", "plain client-id")]
    [InlineData("zero\u200Bwidth\uFEFF", "zero\\u{200B}width\\u{FEFF}")] // invisible format characters
    [InlineData("tag\U000E0041", "tag\\u{E0041}")] // a tag character, outside the BMP
    [InlineData("accents é and 日本 stay", "accents é and 日本 stay")]
    [InlineData("family 👨\u200D👩\u200D👧, \u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645", "family 👨\u200D👩\u200D👧, \u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645")] // joiners shape emoji and Persian
    public void TerminalText_ControlBidiAndLineCharacters_AreShownEscaped(string text, string shown) =>
        Assert.Equal(shown, TerminalText.Safe(text));

    [Fact]
    public void TerminalText_Multiline_KeepsNewlinesAndTabs_ButNotEscapeSequences() =>
        Assert.Equal("a\n\tb\\u{001B}[31m", TerminalText.Safe("a\n\tb\u001B[31m", multiline: true));

    [Fact]
    public async Task AuditTail_ACallerChosenClientIdWithEscapeSequences_IsPrintedEscaped()
    {
        using var ema = await EmaProcess.StartAsync();
        using var http = TrustedHttp.Client(ema.Ca);

        // Anyone can send this: a refused token request whose client id erases the terminal line and prints a forged one.
        const string hostile = "x\u001B[2K\r#4242 2026-01-01 00:00:00.000 token_exchange granted ema-agent usr-ceo";
        using var request = new HttpRequestMessage(HttpMethod.Post, ema.BaseUrl + "/idp/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = "nothing" }),
        };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(hostile)}:secret")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(request)).StatusCode);

        var tail = await EmaCli.RunAsync("audit", "tail", "--data", ema.Data, "--lines", "5");
        Assert.Equal(0, tail.Code);
        Assert.DoesNotContain('\u001B', tail.Out);
        Assert.DoesNotContain('\r', tail.Out);
        Assert.Contains("x\\u{001B}[2K\\u{000D}#4242", tail.Out, StringComparison.Ordinal);
    }
}
