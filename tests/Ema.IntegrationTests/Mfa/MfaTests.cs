using System.Text;
using Ema.Client;
using Ema.IntegrationTests.Infrastructure;
using Ema.Server.Security;

namespace Ema.IntegrationTests.Mfa;

/// <summary>TOTP (RFC 6238) and the step-up round trip it makes possible (issue [5 of 5]).</summary>
public sealed class MfaTests
{
    private static readonly byte[] RfcSecret = Encoding.ASCII.GetBytes("12345678901234567890");

    [Theory]
    [InlineData(59, "287082")] // RFC 6238 Appendix B, SHA-1 vectors (last 6 of the 8 digits)
    [InlineData(1111111109, "081804")]
    [InlineData(1234567890, "005924")]
    [InlineData(2000000000, "279037")]
    public void Totp_MatchesTheRfc6238TestVectors(long unixTime, string expected) =>
        Assert.Equal(expected, Totp.Code(RfcSecret, Totp.StepAt(DateTimeOffset.FromUnixTimeSeconds(unixTime))));

    [Fact]
    public void Totp_AcceptsOneStepOfDrift_RefusesReuseAndOtherCodes()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var step = Totp.StepAt(now);
        Assert.Equal(step, Totp.Verify(RfcSecret, Totp.Code(RfcSecret, step), now, 0));
        Assert.Equal(step - 1, Totp.Verify(RfcSecret, Totp.Code(RfcSecret, step - 1), now, 0));
        Assert.Null(Totp.Verify(RfcSecret, Totp.Code(RfcSecret, step - 2), now, 0)); // too old
        Assert.Null(Totp.Verify(RfcSecret, Totp.Code(RfcSecret, step), now, step)); // already used
        Assert.Null(Totp.Verify(RfcSecret, "12345", now, 0));
        Assert.Null(Totp.Verify(RfcSecret, null, now, 0));
        Assert.Equal(RfcSecret, Totp.FromBase32(Totp.Base32(RfcSecret)));
    }

    [Fact]
    public async Task StepUp_IdpAsksForMfa_ClientSignsInAgainWithTheOneTimeCode_RetrySucceeds()
    {
        var policy = Path.Combine(Path.GetTempPath(), "ema-mfa-policy-" + Guid.CreateVersion7().ToString("N") + ".yaml");
        await File.WriteAllTextAsync(policy, """
            version: 1
            default: deny
            rules:
              - { id: engineering-wiki, effect: allow, subjects: { groups: [grp-engineering] }, resources: [res-wiki] }
              - { id: engineering-tickets-mfa, effect: allow, subjects: { groups: [grp-engineering] }, resources: [res-tickets], when: { mfa: true } }
            """);
        try
        {
            using var ema = await EmaProcess.StartAsync("--Ema:IdentityProvider:PolicyFile=" + policy);
            var enroll = await EmaCli.RunAsync("admin", "--data", ema.Data, "users", "mfa-enroll", "--user", "alice");
            Assert.True(enroll.Code == 0, enroll.Err);
            var secret = Totp.FromBase32(enroll.Out.Split('\n').Single(l => l.TrimStart().StartsWith("secret:", StringComparison.Ordinal)).Split(':')[1].Trim());
            var codesTyped = 0;
            using var client = await ema.SignedInClientAsync("alice", oneTimeCode: () =>
            {
                codesTyped++;
                return Totp.Code(secret, Totp.StepAt(TimeProvider.System.GetUtcNow()));
            });
            Assert.Equal(0, codesTyped); // the first sign-in is password only: nothing asked for MFA yet
            Assert.DoesNotContain("mfa", client.Session!.IdToken, StringComparison.Ordinal);

            var connections = await client.ConnectAllAsync();
            try
            {
                Assert.Equal(ConnectionStatus.Connected, connections.Single(c => c.Server.Name == "Wiki").Status);
                var tickets = connections.Single(c => c.Server.Name == "Tickets");
                Assert.True(tickets.Status == ConnectionStatus.Connected, tickets.Summary); // asked → stepped up with the code → granted
                Assert.Equal(1, codesTyped);
                Assert.NotEmpty(await tickets.Client!.ListToolsAsync());
            }
            finally
            {
                foreach (var c in connections)
                {
                    await c.DisposeAsync();
                }
            }
        }
        finally
        {
            File.Delete(policy);
        }
    }
}
