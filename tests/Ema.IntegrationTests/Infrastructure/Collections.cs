namespace Ema.IntegrationTests.Infrastructure;

/// <summary>One running host shared by the IdP test classes (starting Kestrel and migrating SQLite once).</summary>
[CollectionDefinition(Name)]
public sealed class EmaServerCollection : ICollectionFixture<EmaServerFixture>
{
    public const string Name = "ema-server";
}
