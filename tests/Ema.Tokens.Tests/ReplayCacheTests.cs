using Ema.Testing;
using Ema.Tokens.Replay;

namespace Ema.Tokens.Tests;

/// <summary>Decision 2: atomic insert-if-absent scoped by issuer, kept until exp + skew, memory bounded, fail closed.</summary>
public sealed class ReplayCacheTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task ReplayCache_SecondUseBeforeExpiry_ReturnsReplayed()
    {
        var cache = new InMemoryReplayCache(_time);
        var exp = _time.GetUtcNow().AddMinutes(5);
        Assert.Equal(ReplayCheckResult.Accepted, await cache.TryAddAsync("https://idp", "j1", exp, default));
        Assert.Equal(ReplayCheckResult.Replayed, await cache.TryAddAsync("https://idp", "j1", exp, default));
    }

    [Fact]
    public async Task ReplayCache_ScopedByIssuer()
    {
        var cache = new InMemoryReplayCache(_time);
        var exp = _time.GetUtcNow().AddMinutes(5);
        Assert.Equal(ReplayCheckResult.Accepted, await cache.TryAddAsync("https://idp-a", "j1", exp, default));
        Assert.Equal(ReplayCheckResult.Accepted, await cache.TryAddAsync("https://idp-b", "j1", exp, default));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        Assert.Equal(ReplayCheckResult.Accepted, await cache.TryAddAsync("ab", "c", exp, default));
        Assert.Equal(ReplayCheckResult.Accepted, await cache.TryAddAsync("a", "bc", exp, default));
    }

    [Fact]
    public async Task ReplayCache_AfterExpiry_EntryIsForgottenAndSwept()
    {
        var cache = new InMemoryReplayCache(_time, new InMemoryReplayCacheOptions { SweepInterval = TimeSpan.FromSeconds(30) });
        for (var i = 0; i < 100; i++)
        {
            await cache.TryAddAsync("https://idp", "j" + i, _time.GetUtcNow().AddMinutes(5), default);
        }

        _time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(ReplayCheckResult.Accepted, await cache.TryAddAsync("https://idp", "j0", _time.GetUtcNow().AddMinutes(5), default));
        Assert.True(cache.Count <= 2, $"count={cache.Count}");
    }

    [Fact]
    public async Task ReplayCache_Full_FailsClosed()
    {
        var cache = new InMemoryReplayCache(_time, new InMemoryReplayCacheOptions { MaxEntries = 3 });
        var exp = _time.GetUtcNow().AddMinutes(5);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ReplayCheckResult.Accepted, await cache.TryAddAsync("i", "j" + i, exp, default));
        }

        Assert.Equal(ReplayCheckResult.Unavailable, await cache.TryAddAsync("i", "j3", exp, default));
        Assert.Equal(ReplayCheckResult.Replayed, await cache.TryAddAsync("i", "j0", exp, default));
    }

    [Fact]
    public async Task ReplayCache_ThousandConcurrentInserts_ExactlyOneAccepted()
    {
        var cache = new InMemoryReplayCache(_time);
        var exp = _time.GetUtcNow().AddMinutes(5);
        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(_ => Task.Run(() => cache.TryAddAsync("https://idp", "hot", exp, default).AsTask())));
        Assert.Equal(1, results.Count(r => r == ReplayCheckResult.Accepted));
    }
}
