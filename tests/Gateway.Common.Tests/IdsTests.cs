namespace Gateway.Common.Tests;

public sealed class IdsTests
{
    [Fact]
    public void NewId_IsAVersion7Uuid_WithTheCurrentMillisecondUpFront()
    {
        var before = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        var id = Ids.NewId();
        var after = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();

        Assert.Matches("^[0-9a-f]{32}$", id);
        var guid = Guid.ParseExact(id, "N");
        Assert.Equal(7, guid.Version);
        Assert.Equal(0b10, guid.Variant >> 2);
        var ms = Convert.ToInt64(id[..12], 16);
        Assert.InRange(ms, before, after);
    }

    [Fact]
    public void NewId_ManyFromManyThreads_AllDistinct_AndOrderedAcrossMilliseconds()
    {
        var ids = new string[200_000];
        Parallel.For(0, ids.Length, i => ids[i] = Ids.NewId());
        Assert.Equal(ids.Length, ids.Distinct(StringComparer.Ordinal).Count());

        var first = Ids.NewId();
        Thread.Sleep(5);
        Assert.True(string.CompareOrdinal(first, Ids.NewId()) < 0);
    }
}
