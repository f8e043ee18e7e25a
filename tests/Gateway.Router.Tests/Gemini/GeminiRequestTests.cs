using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers.Gemini;
using static Gateway.Router.Tests.Gemini.GeminiTestData;

namespace Gateway.Router.Tests.Gemini;

// Neutral request -> the exact generateContent body.
public sealed class GeminiRequestTests
{
    private static Message User(string text) => new() { Role = Role.User, Content = { new ContentPart { Text = text } } };

    private static Message ToolResult(string id, string text, bool isError = false) => new() { Role = Role.Tool, ToolCallId = id, IsError = isError, Content = { new ContentPart { Text = text } } };

    private static Message AssistantCalls(params ToolCall[] calls)
    {
        var message = new Message { Role = Role.Assistant };
        message.ToolCalls.AddRange(calls);
        return message;
    }

    private static string Request(ChatRequest request) => Write(w => GeminiCodec.WriteRequest(w, request));

    [Fact]
    public void WriteRequest_FullConversation_MatchesGoldenJson()
    {
        var request = new ChatRequest
        {
            Model = "gemini-flash",
            Messages =
            {
                new Message { Role = Role.System, Content = { new ContentPart { Text = "You are terse." } } },
                new Message { Role = Role.Developer, Content = { new ContentPart { Text = "Answer in English." } } },
                new Message
                {
                    Role = Role.User,
                    Content =
                    {
                        new ContentPart { Text = "What is in this picture?" },
                        new ContentPart { Image = new ImagePart { Url = "data:image/png;base64,iVBORw0KGgo=" } },
                        new ContentPart { Image = new ImagePart { Url = "https://example.com/cats/cat.JPG?size=large", Detail = "high" } },
                    },
                },
                new Message
                {
                    Role = Role.Assistant,
                    Content = { new ContentPart { Text = "Let me check the weather." } },
                    ToolCalls =
                    {
                        new ToolCall { Id = "call_1", Name = "get_weather", Arguments = """{ "city": "Paris", "units": ["c"] }""" },
                        new ToolCall { Id = "call_2", Name = "get_time", Arguments = "" },
                    },
                },
                ToolResult("call_1", """{"temp_c":21}"""),
                ToolResult("call_2", "14:05"),
                User("Thanks! And tomorrow?"),
            },
            Tools =
            {
                new Tool
                {
                    Name = "get_weather",
                    Description = "Current weather for a city",
                    ParametersJson = """{"type":"object","properties":{"city":{"type":"string"},"units":{"type":"array","items":{"enum":["c","f"]}}},"required":["city"],"additionalProperties":false,"$defs":{"x":{"anyOf":[{"type":"string"},{"type":"null"}]}}}""",
                },
                new Tool { Name = "get_time" },
            },
            ToolChoice = new ToolChoice { Mode = ToolChoice.Types.Mode.Function, FunctionName = "get_weather" },
            ResponseFormat = new ResponseFormat { Type = ResponseFormat.Types.Type.JsonSchema, SchemaName = "forecast", SchemaJson = """{"type":"object","properties":{"summary":{"type":"string"}}}""" },
            Temperature = 0.2,
            TopP = 0.9,
            TopK = 40,
            MaxTokens = 512,
            Stop = { "END" },
            N = 2,
            Seed = 42,
            PresencePenalty = 0.5,
            FrequencyPenalty = -0.5,
            Reasoning = new Reasoning { BudgetTokens = 2048 },
            User = "alice",
        };

        AssertJson("""
            {
              "contents": [
                { "role": "user", "parts": [
                  { "text": "What is in this picture?" },
                  { "inlineData": { "mimeType": "image/png", "data": "iVBORw0KGgo=" } },
                  { "fileData": { "mimeType": "image/jpeg", "fileUri": "https://example.com/cats/cat.JPG?size=large" } } ] },
                { "role": "model", "parts": [
                  { "text": "Let me check the weather." },
                  { "functionCall": { "name": "get_weather", "args": { "city": "Paris", "units": ["c"] } } },
                  { "functionCall": { "name": "get_time", "args": {} } } ] },
                { "role": "user", "parts": [
                  { "functionResponse": { "name": "get_weather", "response": { "temp_c": 21 } } },
                  { "functionResponse": { "name": "get_time", "response": { "result": "14:05" } } } ] },
                { "role": "user", "parts": [ { "text": "Thanks! And tomorrow?" } ] }
              ],
              "systemInstruction": { "parts": [ { "text": "You are terse." }, { "text": "Answer in English." } ] },
              "tools": [ { "functionDeclarations": [
                { "name": "get_weather", "description": "Current weather for a city",
                  "parametersJsonSchema": {"type":"object","properties":{"city":{"type":"string"},"units":{"type":"array","items":{"enum":["c","f"]}}},"required":["city"],"additionalProperties":false,"$defs":{"x":{"anyOf":[{"type":"string"},{"type":"null"}]}}} },
                { "name": "get_time" } ] } ],
              "toolConfig": { "functionCallingConfig": { "mode": "ANY", "allowedFunctionNames": ["get_weather"] } },
              "generationConfig": {
                "temperature": 0.2, "topP": 0.9, "topK": 40, "maxOutputTokens": 512, "stopSequences": ["END"],
                "candidateCount": 2, "seed": 42, "presencePenalty": 0.5, "frequencyPenalty": -0.5,
                "responseMimeType": "application/json",
                "responseJsonSchema": {"type":"object","properties":{"summary":{"type":"string"}}},
                "thinkingConfig": { "thinkingBudget": 2048, "includeThoughts": true }
              }
            }
            """, Request(request));
    }

    [Fact]
    public void WriteRequest_PlainChat_SendsOnlyContents()
    {
        var json = Request(new ChatRequest { Model = "m", Messages = { User("Hi") } });

        AssertJson("""{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}""", json);
    }

    [Theory]
    [InlineData(ToolChoice.Types.Mode.Auto, "AUTO")]
    [InlineData(ToolChoice.Types.Mode.None, "NONE")]
    [InlineData(ToolChoice.Types.Mode.Required, "ANY")]
    public void WriteRequest_ToolChoiceMode_MapsToFunctionCallingMode(ToolChoice.Types.Mode mode, string expected)
    {
        var json = Request(new ChatRequest { Model = "m", Messages = { User("Hi") }, Tools = { new Tool { Name = "f" } }, ToolChoice = new ToolChoice { Mode = mode } });

        AssertJson($$"""
            {"contents":[{"role":"user","parts":[{"text":"Hi"}]}],
             "tools":[{"functionDeclarations":[{"name":"f"}]}],
             "toolConfig":{"functionCallingConfig":{"mode":"{{expected}}"} } }
            """, json);
    }

    [Fact]
    public void WriteRequest_JsonObjectFormatAndEffort_SetsMimeTypeAndBudgetWithoutThoughts()
    {
        var json = Request(new ChatRequest
        {
            Model = "m",
            Messages = { User("List three colours as JSON") },
            ResponseFormat = new ResponseFormat { Type = ResponseFormat.Types.Type.JsonObject },
            Reasoning = new Reasoning { Effort = "medium" },
        });

        AssertJson("""
            {"contents":[{"role":"user","parts":[{"text":"List three colours as JSON"}]}],
             "generationConfig":{"responseMimeType":"application/json","thinkingConfig":{"thinkingBudget":8192}}}
            """, json);
    }

    [Fact]
    public void WriteRequest_RepeatedCallIds_ToolResultTakesNameOfLatestEarlierCall()
    {
        // Ids generated for Gemini calls (call_0, ...) repeat from one turn to the next.
        var json = Request(new ChatRequest
        {
            Model = "m",
            Messages =
            {
                User("Weather?"),
                AssistantCalls(new ToolCall { Id = "call_0", Name = "get_weather", Arguments = "{}" }),
                ToolResult("call_0", "sunny"),
                AssistantCalls(new ToolCall { Id = "call_0", Name = "get_time", Arguments = "{}" }),
                ToolResult("call_0", "noon"),
            },
        });

        AssertJson("""
            {"contents":[
              {"role":"user","parts":[{"text":"Weather?"}]},
              {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{}}}]},
              {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"result":"sunny"}}}]},
              {"role":"model","parts":[{"functionCall":{"name":"get_time","args":{}}}]},
              {"role":"user","parts":[{"functionResponse":{"name":"get_time","response":{"result":"noon"}}}]}]}
            """, json);
    }

    [Fact]
    public void WriteRequest_NonObjectAndErrorResults_AreWrapped()
    {
        var json = Request(new ChatRequest
        {
            Model = "m",
            Messages =
            {
                User("Go"),
                AssistantCalls(
                    new ToolCall { Id = "a", Name = "count", Arguments = "{}" },
                    new ToolCall { Id = "b", Name = "list", Arguments = "{}" },
                    new ToolCall { Id = "c", Name = "fail", Arguments = "{}" }),
                ToolResult("a", "42"),
                ToolResult("b", """[1, "two"]"""),
                ToolResult("c", "disk full", isError: true),
            },
        });

        AssertJson("""
            {"contents":[
              {"role":"user","parts":[{"text":"Go"}]},
              {"role":"model","parts":[
                {"functionCall":{"name":"count","args":{}}},{"functionCall":{"name":"list","args":{}}},{"functionCall":{"name":"fail","args":{}}}]},
              {"role":"user","parts":[
                {"functionResponse":{"name":"count","response":{"result":42}}},
                {"functionResponse":{"name":"list","response":{"result":[1,"two"]}}},
                {"functionResponse":{"name":"fail","response":{"error":"disk full"}}}]}]}
            """, json);
    }

    [Fact]
    public void WriteRequest_ToolResultForUnknownCall_Is400NamingTheField()
    {
        var request = new ChatRequest { Model = "m", Messages = { User("Go"), ToolResult("call_missing", "x") } };

        var error = Assert.Throws<GatewayException>(() => Request(request));

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
        Assert.Equal("messages[1].tool_call_id", error.Param);
    }

    [Fact]
    public void WriteRequest_ToolResultForUnknownCallWithName_UsesTheName()
    {
        var result = ToolResult("call_missing", "{}");
        result.Name = "lookup";

        var json = Request(new ChatRequest { Model = "m", Messages = { User("Go"), result } });

        Assert.Contains("""{"functionResponse":{"name":"lookup","response":{}}}""", Normalize(json), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    public void WriteRequest_AssistantArgumentsNotAnObject_Is400NamingTheField(string arguments)
    {
        var request = new ChatRequest { Model = "m", Messages = { User("Go"), AssistantCalls(new ToolCall { Id = "a", Name = "f", Arguments = arguments }) } };

        var error = Assert.Throws<GatewayException>(() => Request(request));

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
        Assert.Equal("messages[1].tool_calls[0].function.arguments", error.Param);
    }

    [Fact]
    public void WriteRequest_GeminiThoughtSignature_GoesBackOnFirstCallButAnthropicSignaturesStay()
    {
        var assistant = AssistantCalls(new ToolCall { Id = "call_0", Name = "f", Arguments = "{}" }, new ToolCall { Id = "call_1", Name = "g", Arguments = "{}" });
        assistant.Reasoning.Add(new ReasoningBlock { Text = "Claude thinking", Signature = "anthropic-sig" });
        assistant.Reasoning.Add(new ReasoningBlock { Signature = "gemini-sig" });

        var json = Request(new ChatRequest { Model = "m", Messages = { User("Go"), assistant } });

        AssertJson("""
            {"contents":[
              {"role":"user","parts":[{"text":"Go"}]},
              {"role":"model","parts":[
                {"functionCall":{"name":"f","args":{}},"thoughtSignature":"gemini-sig"},
                {"functionCall":{"name":"g","args":{}}}]}]}
            """, json);
    }

    [Fact]
    public void WriteRequest_EmptyMessagesAndTextParts_AreLeftOut()
    {
        var json = Request(new ChatRequest
        {
            Model = "m",
            Messages = { User("Hi"), new Message { Role = Role.Assistant, Content = { new ContentPart { Text = "" } } }, User("Still there?") },
        });

        AssertJson("""{"contents":[{"role":"user","parts":[{"text":"Hi"}]},{"role":"user","parts":[{"text":"Still there?"}]}]}""", json);
    }

    [Fact]
    public void WriteRequest_PlainDataUri_IsBase64Encoded()
    {
        var message = new Message { Role = Role.User, Content = { new ContentPart { Image = new ImagePart { Url = "data:image/svg+xml,%3Csvg%2F%3E" } } } };

        var json = Request(new ChatRequest { Model = "m", Messages = { message } });

        AssertJson("""{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/svg+xml","data":"PHN2Zy8+"}}]}]}""", json);
    }

    [Fact]
    public void WriteEmbedRequest_Batch_NamesModelPerRequestWithDimensions()
    {
        var request = new EmbedRequest { Model = "embed", Input = { "one", "zwei" }, Dimensions = 8 };

        var json = Write(w => GeminiCodec.WriteEmbedRequest(w, request, "gemini-embedding-001"));

        AssertJson("""
            {"requests":[
              {"model":"models/gemini-embedding-001","content":{"parts":[{"text":"one"}]},"outputDimensionality":8},
              {"model":"models/gemini-embedding-001","content":{"parts":[{"text":"zwei"}]},"outputDimensionality":8}]}
            """, json);
    }
}
