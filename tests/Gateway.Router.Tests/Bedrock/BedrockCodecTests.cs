using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers.Bedrock;
using static Gateway.Router.Tests.Gemini.GeminiTestData;

namespace Gateway.Router.Tests.Bedrock;

// Neutral request -> the exact Converse body; Converse response -> neutral.
public sealed class BedrockCodecTests
{
    private static string Request(ChatRequest request) => Write(w => BedrockCodec.WriteRequest(w, request));

    private static Message User(string text) => new() { Role = Role.User, Content = { new ContentPart { Text = text } } };

    [Fact]
    public void WriteRequest_FullConversationWithTools_MatchesGoldenJson()
    {
        var request = new ChatRequest
        {
            Model = "claude-bedrock",
            Messages =
            {
                new Message { Role = Role.System, Content = { new ContentPart { Text = "You are terse." } } },
                new Message
                {
                    Role = Role.User,
                    Content = { new ContentPart { Text = "Weather here?" }, new ContentPart { Image = new ImagePart { Url = "data:image/jpeg;base64,/9j/4AAQ" } } },
                },
                new Message
                {
                    Role = Role.Assistant,
                    Reasoning = { new ReasoningBlock { Text = "Need the tool.", Signature = "sig-1" } },
                    ToolCalls = { new ToolCall { Id = "tooluse_1", Name = "get_weather", Arguments = """{"city":"Paris"}""" } },
                },
                new Message { Role = Role.Tool, ToolCallId = "tooluse_1", Content = { new ContentPart { Text = """{"temp_c":21}""" } } },
                new Message { Role = Role.Tool, ToolCallId = "tooluse_2", IsError = true, Content = { new ContentPart { Text = "timeout" } } },
                User("Thanks!"),
            },
            Tools = { new Tool { Name = "get_weather", Description = "Current weather", ParametersJson = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""" } },
            ToolChoice = new ToolChoice { Mode = ToolChoice.Types.Mode.Function, FunctionName = "get_weather" },
            MaxTokens = 512,
            Temperature = 1.4,
            TopP = 0.9,
            TopK = 40,
            Stop = { "END" },
        };

        AssertJson("""
            {
              "messages": [
                {"role": "user", "content": [
                  {"text": "Weather here?"},
                  {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}}
                ]},
                {"role": "assistant", "content": [
                  {"reasoningContent": {"reasoningText": {"text": "Need the tool.", "signature": "sig-1"}}},
                  {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
                ]},
                {"role": "user", "content": [
                  {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "{\"temp_c\":21}"}]}},
                  {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "timeout"}], "status": "error"}},
                  {"text": "Thanks!"}
                ]}
              ],
              "system": [{"text": "You are terse."}],
              "inferenceConfig": {"maxTokens": 512, "temperature": 1, "topP": 0.9, "stopSequences": ["END"]},
              "toolConfig": {
                "tools": [{"toolSpec": {"name": "get_weather", "description": "Current weather",
                  "inputSchema": {"json": {"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}}],
                "toolChoice": {"tool": {"name": "get_weather"}}
              },
              "additionalModelRequestFields": {"top_k": 40}
            }
            """, Request(request));
    }

    [Fact]
    public void WriteRequest_PlainQuestion_HasOnlyMessages()
        => AssertJson("""{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}""", Request(new ChatRequest { Messages = { User("Hi") } }));

    [Theory]
    [InlineData(ToolChoice.Types.Mode.Required, """{"any":{}}""")]
    [InlineData(ToolChoice.Types.Mode.Auto, """{"auto":{}}""")]
    public void WriteRequest_ToolChoice_MapsToConverseChoice(ToolChoice.Types.Mode mode, string expected)
    {
        var request = new ChatRequest { Messages = { User("Hi") }, Tools = { new Tool { Name = "f" } }, ToolChoice = new ToolChoice { Mode = mode } };

        AssertJson("""
            {"messages":[{"role":"user","content":[{"text":"Hi"}]}],
             "toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object","properties":{}}}}}],"toolChoice":CHOICE}}
            """.Replace("CHOICE", expected, StringComparison.Ordinal), Request(request));
    }

    [Fact]
    public void WriteRequest_ToolChoiceNoneWithoutToolHistory_LeavesToolsOut()
    {
        var request = new ChatRequest { Messages = { User("Hi") }, Tools = { new Tool { Name = "f" } }, ToolChoice = new ToolChoice { Mode = ToolChoice.Types.Mode.None } };

        Assert.DoesNotContain("toolConfig", Request(request), StringComparison.Ordinal);
    }

    [Fact]
    public void WriteRequest_JsonSchemaFormatAndThinking_BecomeInstructionAndAdditionalFields()
    {
        var request = new ChatRequest
        {
            Messages = { User("List two colours") },
            ResponseFormat = new ResponseFormat { Type = ResponseFormat.Types.Type.JsonObject },
            Reasoning = new Reasoning { BudgetTokens = 2048 },
        };

        AssertJson("""
            {"messages":[{"role":"user","content":[{"text":"List two colours"}]}],
             "system":[{"text":"Respond with a single valid JSON object and nothing else: no Markdown code fences, no text before or after it."}],
             "additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":2048}}}
            """, Request(request));
    }

    [Fact]
    public void WriteRequest_ImageByUrl_IsRefusedWithTheField()
    {
        var request = new ChatRequest { Messages = { new Message { Role = Role.User, Content = { new ContentPart { Image = new ImagePart { Url = "http://169.254.169.254/latest" } } } } } };

        var error = Assert.Throws<GatewayException>(() => Request(request));

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
        Assert.Equal("messages[0].content[0]", error.Param);
    }

    [Fact]
    public void ReadResponse_TextToolUseAndCachedUsage_MapToNeutral()
    {
        using var document = System.Text.Json.JsonDocument.Parse("""
            {
              "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "s1"}}},
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "tooluse_abc", "name": "get_weather", "input": {"city": "Oslo"}}}
              ]}},
              "stopReason": "tool_use",
              "usage": {"inputTokens": 20, "outputTokens": 9, "totalTokens": 129, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 0},
              "metrics": {"latencyMs": 812}
            }
            """);

        var response = BedrockCodec.ReadResponse(document.RootElement, "req-1", "anthropic.claude-3-5-sonnet-20240620-v1:0", 1_700_000_000);

        var choice = Assert.Single(response.Choices);
        Assert.Equal(FinishReason.ToolCalls, choice.FinishReason);
        Assert.Equal("Checking.", choice.Message.Content[0].Text);
        Assert.Equal("Think.", choice.Message.Reasoning[0].Text);
        var call = Assert.Single(choice.Message.ToolCalls);
        Assert.Equal(("tooluse_abc", "get_weather", """{"city": "Oslo"}"""), (call.Id, call.Name, call.Arguments));
        Assert.Equal((120, 9, 100), (response.Usage.InputTokens, response.Usage.OutputTokens, response.Usage.CachedInputTokens));
        Assert.Equal(("req-1", "anthropic.claude-3-5-sonnet-20240620-v1:0"), (response.Id, response.Model));
    }

    [Theory]
    [InlineData("end_turn", FinishReason.Stop)]
    [InlineData("stop_sequence", FinishReason.Stop)]
    [InlineData("max_tokens", FinishReason.Length)]
    [InlineData("tool_use", FinishReason.ToolCalls)]
    [InlineData("guardrail_intervened", FinishReason.ContentFilter)]
    [InlineData("content_filtered", FinishReason.ContentFilter)]
    public void ParseStopReason_ConverseValues_MapToNeutral(string stopReason, FinishReason expected)
        => Assert.Equal(expected, BedrockCodec.ParseStopReason(stopReason));

    [Theory]
    [InlineData("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", 429, ErrorKind.UpstreamRateLimited)]
    [InlineData("throttlingException", 500, ErrorKind.UpstreamRateLimited)]
    [InlineData("ValidationException", 400, ErrorKind.InvalidRequest)]
    [InlineData("AccessDeniedException", 403, ErrorKind.UpstreamAuthentication)]
    [InlineData("com.amazon.coral.service#UnrecognizedClientException", 403, ErrorKind.UpstreamAuthentication)]
    [InlineData("ModelTimeoutException", 408, ErrorKind.UpstreamTimeout)]
    [InlineData("ServiceUnavailableException", 503, ErrorKind.UpstreamError)]
    [InlineData("modelStreamErrorException", 500, ErrorKind.UpstreamError)]
    [InlineData(null, 424, ErrorKind.UpstreamError)]
    public void Errors_ExceptionNames_MapToTheirClass(string? type, int status, ErrorKind expected)
    {
        var error = BedrockErrors.Read("bedrock", status, type, """{"message":"Something happened."}""", null);

        Assert.Equal(expected, error.Kind);
    }

    [Fact]
    public void Errors_InputTooLong_IsContextLengthExceeded()
    {
        var error = BedrockErrors.Read("bedrock", 400, "ValidationException", """{"message":"Input is too long for requested model."}""", null);

        Assert.Equal(ErrorKind.ContextLengthExceeded, error.Kind);
    }
}
