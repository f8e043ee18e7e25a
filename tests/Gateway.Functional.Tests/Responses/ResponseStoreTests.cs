using Gateway.Common.Configuration;
using Gateway.Contracts.Inference.V1;
using Gateway.Edge.OpenAi.Responses;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Functional.Tests.Responses;

// The stored-responses table on a real SQLite file, with a clock the test moves: owner scoping and retention.
public sealed class ResponseStoreTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-tests", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private ResponseStore _store = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        var config = new GatewayConfig
        {
            Storage = new StorageConfig { State = $"sqlite://{_directory}/state.db" },
            Responses = new ResponsesConfig { RetentionDays = 1 },
        };
        _store = new ResponseStore(new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance), _time);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static Message User(string text) => new() { Role = Role.User, Content = { new ContentPart { Text = text } } };

    [Fact]
    public async Task Find_ReturnsConversationToItsOwnerOnly()
    {
        await _store.SaveAsync("key-a", "resp_1", """{"id":"resp_1"}""", [User("hello"), new Message { Role = Role.Assistant, ToolCalls = { new ToolCall { Id = "call_1", Name = "f", Arguments = "{}" } } }], Ct);

        var mine = await _store.FindAsync("key-a", "resp_1", Ct);
        var theirs = await _store.FindAsync("key-b", "resp_1", Ct);

        Assert.NotNull(mine);
        Assert.Equal("""{"id":"resp_1"}""", mine.ResponseJson);
        Assert.Equal("hello", mine.Conversation[0].Content[0].Text);
        Assert.Equal("call_1", mine.Conversation[1].ToolCalls[0].Id);
        Assert.Null(theirs);
        Assert.False(await _store.DeleteAsync("key-b", "resp_1", Ct));
    }

    [Fact]
    public async Task Retention_ExpiredRowsAreNotServedAndArePurged()
    {
        await _store.SaveAsync("key-a", "resp_old", "{}", [User("old")], Ct);
        _time.Advance(TimeSpan.FromHours(23));
        Assert.NotNull(await _store.FindAsync("key-a", "resp_old", Ct));

        _time.Advance(TimeSpan.FromHours(2));

        Assert.Null(await _store.FindAsync("key-a", "resp_old", Ct));
        // The next write purges what has expired (at most every few minutes): only the new row is left.
        await _store.SaveAsync("key-a", "resp_new", "{}", [User("new")], Ct);
        Assert.Equal(0, await _store.PurgeAsync(Ct));
        Assert.NotNull(await _store.FindAsync("key-a", "resp_new", Ct));
    }
}
