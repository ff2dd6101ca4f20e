using Ema.Protocol;
using Ema.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace Ema.Tokens.Tests;

/// <summary>Bad input never throws out of the validators: every input yields a result, every rejection an OAuthError.</summary>
public sealed class NeverThrowsTests
{
    [Fact]
    public void IdJagValidator_ArbitraryStrings_NeverThrowAndAlwaysReject()
    {
        var s = new IdJagScenario();
        Prop.ForAll<string>(input =>
        {
            var result = s.ValidateAsync(input ?? string.Empty).AsTask().GetAwaiter().GetResult();
            return !result.IsValid && result.Error is not null && result.Error.Code == ErrorCodes.InvalidGrant;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void IdJagValidator_SingleCharacterMutationsOfValidToken_NeverThrowAndAlwaysReject()
    {
        var s = new IdJagScenario();
        var token = s.Token();
        var alphabet = "AZaz09-_.=+/ \"{}".ToCharArray();
        Prop.ForAll(
            Gen.Choose(0, token.Length - 1).ToArbitrary(),
            Gen.Elements(alphabet).ToArbitrary(),
            (position, replacement) =>
            {
                if (token[position] == replacement)
                {
                    return true;
                }

                var mutated = token[..position] + replacement + token[(position + 1)..];
                var result = s.ValidateAsync(mutated).AsTask().GetAwaiter().GetResult();
                return !result.IsValid && result.Error is not null;
            }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void IdJagValidator_RandomSegmentsOfRandomBytes_NeverThrow()
    {
        var s = new IdJagScenario();
        Prop.ForAll<byte[], byte[], byte[]>((h, p, sig) =>
        {
            var token = RawJwt.B64(h ?? []) + "." + RawJwt.B64(p ?? []) + "." + RawJwt.B64(sig ?? []);
            var result = s.ValidateAsync(token).AsTask().GetAwaiter().GetResult();
            return !result.IsValid && result.Error is not null;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void AccessTokenValidator_ArbitraryStrings_NeverThrowAndAlwaysReject()
    {
        var fixture = new AccessTokenFixture();
        Prop.ForAll<string>(input =>
        {
            var result = fixture.Validator.ValidateAsync(input, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            return !result.IsValid && result.Error!.Code == ErrorCodes.InvalidToken;
        }).QuickCheckThrowOnFailure();
    }
}
