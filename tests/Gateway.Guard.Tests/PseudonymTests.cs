namespace Gateway.Guard.Tests;

public sealed class PseudonymTests
{
    private static readonly Dictionary<string, string> Map = new() { ["<PERSON_1>"] = "Maria Schmidt", ["<EMAIL_1>"] = "maria@acme.de" };

    [Fact]
    public void Restore_PlaceholdersInText_AreReplaced()
        => Assert.Equal("Dear Maria Schmidt (maria@acme.de), <UNKNOWN_9> stays.", Pseudonyms.Restore("Dear <PERSON_1> (<EMAIL_1>), <UNKNOWN_9> stays.", Map));

    [Fact]
    public void Restore_InJson_EscapesValue()
    {
        var map = new Dictionary<string, string> { ["<PERSON_1>"] = "Jo \"JJ\" Smith" };
        Assert.Equal("{\"name\":\"Jo \\\"JJ\\\" Smith\"}", Pseudonyms.Restore("{\"name\":\"<PERSON_1>\"}", map, json: true));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Stream_PlaceholderSplitAcrossPieces_IsRestored(int size)
    {
        const string text = "Hello <PERSON_1>, we wrote to <EMAIL_1>. a<b and x < y; <PERSON_1>!";
        var stream = new PseudonymStream(Map);
        var output = new System.Text.StringBuilder();
        for (var i = 0; i < text.Length; i += size)
        {
            output.Append(stream.Push(text.Substring(i, Math.Min(size, text.Length - i))));
        }
        output.Append(stream.Flush());
        Assert.Equal("Hello Maria Schmidt, we wrote to maria@acme.de. a<b and x < y; Maria Schmidt!", output.ToString());
    }

    [Fact]
    public void Stream_TextWithoutPlaceholders_IsNotHeldBack()
    {
        var stream = new PseudonymStream(Map);
        Assert.Equal("plain text ", stream.Push("plain text "));
        Assert.Equal("<PER", stream.Push("<PER") + stream.Flush());
    }
}
