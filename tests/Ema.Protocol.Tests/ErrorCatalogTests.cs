namespace Ema.Protocol.Tests;

/// <summary>Style rule 7: error ids are unique, stable and documented in docs/errors.md.</summary>
public sealed class ErrorCatalogTests
{
    [Fact]
    public void ErrorIds_AreUnique() =>
        Assert.Equal(ErrorIds.All.Count, ErrorIds.All.Select(e => e.Id).Distinct(StringComparer.Ordinal).Count());

    [Fact]
    public void ErrorIds_UseOnlyRegisteredOAuthCodes()
    {
        var codes = typeof(ErrorCodes).GetFields().Select(f => (string)f.GetValue(null)!).ToHashSet(StringComparer.Ordinal);
        Assert.All(ErrorIds.All, e => Assert.Contains(e.Code, codes));
    }

    [Fact]
    public void ErrorIds_AreAllDocumented()
    {
        var docs = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "errors.md"));
        var missing = ErrorIds.All.Where(e => !docs.Contains($"<a id=\"{e.Id.ToLowerInvariant()}\"></a>", StringComparison.Ordinal)).Select(e => e.Id).ToList();
        Assert.True(missing.Count == 0, "Undocumented error ids: " + string.Join(", ", missing));
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Ema.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Ema.slnx not found above the test directory.");
    }
}
