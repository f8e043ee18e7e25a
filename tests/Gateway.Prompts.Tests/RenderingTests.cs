using Gateway.Common.Errors;
using Gateway.Contracts.Prompts.V1;

namespace Gateway.Prompts.Tests;

public sealed class RenderingTests
{
    private static string Text(ResolvedPrompt prompt, int index = 0) => prompt.Messages[index].Content[0].Text;

    [Fact]
    public async Task Render_JsonAndSingleBracesInTemplate_StayAsWritten()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("extract", """
            {"messages":[{"role":"system","content":"Answer as JSON: {\"name\": string, \"tags\": [string]} for {{customer}}. Example: {\"name\": \"A\", \"tags\": [\"b\"]}"}],
             "variables":[{"name":"customer","type":"string"}]}
            """);

        var resolved = await harness.ResolveAsync("extract", """{"customer":"ACME"}""");

        Assert.Equal("""Answer as JSON: {"name": string, "tags": [string]} for ACME. Example: {"name": "A", "tags": ["b"]}""", Text(resolved));
    }

    [Fact]
    public async Task Render_EscapedMustache_WritesLiteralDoubleBraces()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("docs", """{"text":"Write \\{{placeholder}} literally, then {{x}}.","variables":[{"name":"x"}]}""");

        var resolved = await harness.ResolveAsync("docs", """{"x":"done"}""");

        Assert.Equal("Write {{placeholder}} literally, then done.", Text(resolved));
    }

    [Fact]
    public async Task Render_ValuesWithHtmlAndQuotes_AreNotEscaped()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("raw", """{"text":"Q: {{q}}","variables":[{"name":"q"}]}""");

        var resolved = await harness.ResolveAsync("raw", """{"q":"is <b>\"a\" & 'b'</b> {\"k\": 1}?"}""");

        Assert.Equal("""Q: is <b>"a" & 'b'</b> {"k": 1}?""", Text(resolved));
    }

    [Fact]
    public async Task Render_Unicode_IsPreservedInTemplateAndValues()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("greet", """{"messages":[{"role":"system","content":"Grüße, {{name}} — 你好 😀"},{"role":"user","content":"{{question}}"}],"variables":[{"name":"name"},{"name":"question"}]}""");

        var resolved = await harness.ResolveAsync("greet", """{"name":"Zoë 山田","question":"¿Qué tal? 🚀"}""");

        Assert.Equal("Grüße, Zoë 山田 — 你好 😀", Text(resolved));
        Assert.Equal("¿Qué tal? 🚀", Text(resolved, 1));
        Assert.Equal(Contracts.Inference.V1.Role.User, resolved.Messages[1].Role);
    }

    [Fact]
    public async Task Render_MissingRequiredVariable_Is400NamingIt()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("two", """{"text":"{{a}} {{b}}","variables":[{"name":"a"},{"name":"b"}]}""");

        var error = await Assert.ThrowsAsync<GatewayException>(() => harness.ResolveAsync("two", """{"a":"x"}"""));

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
        Assert.Equal("missing_prompt_variable", error.Code);
        Assert.Equal("prompt.variables.b", error.Param);
        Assert.Contains("'b'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Render_UnknownVariable_Is400UnlessVersionAllowsExtras()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("strict", """{"text":"{{a}}","variables":[{"name":"a"}]}""");
        await harness.CreateAsync("loose", """{"text":"{{a}}","variables":[{"name":"a"}],"allow_extra_variables":true}""");

        var error = await Assert.ThrowsAsync<GatewayException>(() => harness.ResolveAsync("strict", """{"a":"x","surprise":"y"}"""));
        var loose = await harness.ResolveAsync("loose", """{"a":"x","surprise":"y"}""");

        Assert.Equal("unknown_prompt_variable", error.Code);
        Assert.Contains("'surprise'", error.Message, StringComparison.Ordinal);
        Assert.Equal("x", Text(loose));
    }

    [Fact]
    public async Task Render_TypedVariablesAndDefaults_FormatAsJsonAndFillGaps()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("typed", """
            {"text":"n={{n}} flag={{flag}} data={{data}} tone={{tone}}{{#if flag}} (flagged){{/if}}",
             "variables":[{"name":"n","type":"number"},{"name":"flag","type":"boolean"},{"name":"data","type":"json"},
                          {"name":"tone","type":"string","default":"friendly"}]}
            """);

        var resolved = await harness.ResolveAsync("typed", """{"n":2.5,"flag":true,"data":{"a":[1,2]}}""");
        var wrongType = await Assert.ThrowsAsync<GatewayException>(() => harness.ResolveAsync("typed", """{"n":"two","flag":true,"data":1}"""));

        Assert.Equal("""n=2.5 flag=true data={"a":[1,2]} tone=friendly (flagged)""", Text(resolved));
        Assert.Equal("prompt.variables.n", wrongType.Param);
    }

    [Fact]
    public async Task Resolve_VersionParameters_ComeWithTheRenderedMessages()
    {
        await using var harness = new CatalogHarness();
        await harness.CreateAsync("params", """
            {"text":"hi","model":"gpt-4o","temperature":0.3,"max_tokens":50,
             "response_format":{"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object"},"strict":true}},
             "tools":[{"type":"function","function":{"name":"lookup","description":"find","parameters":{"type":"object"}}}]}
            """);

        var resolved = await harness.ResolveAsync("params");

        Assert.Equal(("gpt-4o", 0.3, 50), (resolved.Model, resolved.Temperature, resolved.MaxTokens));
        Assert.Equal(Contracts.Inference.V1.ResponseFormat.Types.Type.JsonSchema, resolved.ResponseFormat.Type);
        Assert.Equal("answer", resolved.ResponseFormat.SchemaName);
        Assert.Equal("lookup", Assert.Single(resolved.Tools).Name);
    }
}
