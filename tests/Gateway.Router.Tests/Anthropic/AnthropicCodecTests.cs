using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers.Anthropic;
using static Gateway.Router.Tests.Anthropic.AnthropicJson;

namespace Gateway.Router.Tests.Anthropic;

public sealed class AnthropicCodecTests
{
    private const string JsonInstruction = "Respond with a single valid JSON object and nothing else: no Markdown code fences, no text before or after it.";

    // ---- neutral -> Anthropic request ------------------------------------------------------------------

    [Fact]
    public void WriteRequest_FullConversation_ProducesExactAnthropicJson()
    {
        var request = new ChatRequest
        {
            Model = "claude-sonnet-4",
            Messages =
            {
                Text(Role.System, "You are terse."),
                Text(Role.Developer, "Answer in English."),
                Text(Role.User, "Weather in Paris and Berlin?"),
                new Message
                {
                    Role = Role.Assistant,
                    Reasoning = { new ReasoningBlock { Text = "Need both cities.", Signature = "sig-1" }, new ReasoningBlock { RedactedData = "cmVkYWN0ZWQ=" } },
                    Content = { new ContentPart { Text = "Checking." } },
                    ToolCalls =
                    {
                        new ToolCall { Id = "call_1", Name = "get_weather", Arguments = """{"city":"Paris"}""" },
                        new ToolCall { Id = "call_2", Name = "get_weather", Arguments = """{ "city" : "Berlin" }""" },
                    },
                },
                new Message { Role = Role.Tool, ToolCallId = "call_1", Content = { new ContentPart { Text = "21 °C" } } },
                new Message { Role = Role.Tool, ToolCallId = "call_2", IsError = true, Content = { new ContentPart { Text = "timeout" } } },
                new Message
                {
                    Role = Role.User,
                    Content =
                    {
                        new ContentPart { Text = "And tomorrow?" },
                        new ContentPart { Image = new ImagePart { Url = "data:image/png;base64,iVBORw0KGgo=" } },
                        new ContentPart { Image = new ImagePart { Url = "https://example.com/cat.jpg", Detail = "high" } },
                    },
                },
            },
            Tools = { new Tool { Name = "get_weather", Description = "Current weather", ParametersJson = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""" } },
            ToolChoice = new ToolChoice { Mode = ToolChoice.Types.Mode.Required },
            ParallelToolCalls = false,
            Stop = { "END" },
            Temperature = 0.5,
            TopP = 0.9,
            TopK = 40,
            User = "alice",
            Reasoning = new Reasoning { BudgetTokens = 2048 },
            ResponseFormat = new ResponseFormat { Type = ResponseFormat.Types.Type.JsonObject },
            Metadata = { ["team"] = "not-for-the-provider" },
        };

        var json = Write(w => AnthropicCodec.WriteRequest(w, request, "claude-sonnet-4-20250514", stream: true));

        Assert.Equal(Compact($$$"""
            {
              "model": "claude-sonnet-4-20250514",
              "max_tokens": 6144,
              "system": [
                {"type": "text", "text": "You are terse."},
                {"type": "text", "text": "Answer in English."},
                {"type": "text", "text": "{{{JsonInstruction}}}"}
              ],
              "messages": [
                {"role": "user", "content": "Weather in Paris and Berlin?"},
                {"role": "assistant", "content": [
                  {"type": "thinking", "thinking": "Need both cities.", "signature": "sig-1"},
                  {"type": "redacted_thinking", "data": "cmVkYWN0ZWQ="},
                  {"type": "text", "text": "Checking."},
                  {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                  {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Berlin"}}
                ]},
                {"role": "user", "content": [
                  {"type": "tool_result", "tool_use_id": "call_1", "content": "21 °C"},
                  {"type": "tool_result", "tool_use_id": "call_2", "content": "timeout", "is_error": true},
                  {"type": "text", "text": "And tomorrow?"},
                  {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                  {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
                ]}
              ],
              "tools": [
                {"name": "get_weather", "description": "Current weather",
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
              ],
              "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
              "stop_sequences": ["END"],
              "temperature": 0.5,
              "top_p": 0.9,
              "top_k": 40,
              "metadata": {"user_id": "alice"},
              "thinking": {"type": "enabled", "budget_tokens": 2048},
              "stream": true
            }
            """), json);
    }

    [Fact]
    public void WriteRequest_NoMaxTokens_DefaultsTo4096AndOmitsEverythingUnset()
    {
        var request = new ChatRequest { Model = "claude", Messages = { Text(Role.User, "Hi") } };

        var json = Write(w => AnthropicCodec.WriteRequest(w, request, "claude-3-5-haiku-latest", stream: false));

        Assert.Equal("""{"model":"claude-3-5-haiku-latest","max_tokens":4096,"messages":[{"role":"user","content":"Hi"}]}""", json);
    }

    [Theory]
    [InlineData(ToolChoice.Types.Mode.Auto, null, """{"type":"auto"}""")]
    [InlineData(ToolChoice.Types.Mode.None, null, """{"type":"none"}""")]
    [InlineData(ToolChoice.Types.Mode.Required, null, """{"type":"any"}""")]
    [InlineData(ToolChoice.Types.Mode.Function, null, """{"type":"tool","name":"lookup"}""")]
    [InlineData(ToolChoice.Types.Mode.Unspecified, false, """{"type":"auto","disable_parallel_tool_use":true}""")]
    [InlineData(ToolChoice.Types.Mode.Function, false, """{"type":"tool","name":"lookup","disable_parallel_tool_use":true}""")]
    [InlineData(ToolChoice.Types.Mode.Unspecified, true, null)]
    public void WriteRequest_ToolChoiceAndParallelToolCalls_MapToAnthropicToolChoice(ToolChoice.Types.Mode mode, bool? parallel, string? expected)
    {
        var request = new ChatRequest
        {
            Model = "m",
            Messages = { Text(Role.User, "Hi") },
            Tools = { new Tool { Name = "lookup" } },
            ToolChoice = new ToolChoice { Mode = mode, FunctionName = mode == ToolChoice.Types.Mode.Function ? "lookup" : "" },
        };
        if (parallel is { } p)
        {
            request.ParallelToolCalls = p;
        }

        using var json = JsonDocument.Parse(Write(w => AnthropicCodec.WriteRequest(w, request, "m", stream: false)));

        // A tool without parameters still gets the schema Anthropic requires.
        Assert.Equal("""{"type":"object","properties":{}}""", json.RootElement.GetProperty("tools")[0].GetProperty("input_schema").GetRawText());
        if (expected is null)
        {
            Assert.False(json.RootElement.TryGetProperty("tool_choice", out _));
        }
        else
        {
            Assert.Equal(expected, json.RootElement.GetProperty("tool_choice").GetRawText());
        }
    }

    [Fact]
    public void WriteRequest_JsonSchemaAndOpenAiTemperature_BecomeInstructionAndClampedTemperature()
    {
        var request = new ChatRequest
        {
            Model = "m",
            Messages = { Text(Role.User, "Extract the city.") },
            Temperature = 1.5,
            MaxTokens = 100,
            ResponseFormat = new ResponseFormat { Type = ResponseFormat.Types.Type.JsonSchema, SchemaName = "city", SchemaJson = """{"type":"object","properties":{"name":{"type":"string"}}}""" },
        };

        using var json = JsonDocument.Parse(Write(w => AnthropicCodec.WriteRequest(w, request, "m", stream: false)));

        Assert.Equal(100, json.RootElement.GetProperty("max_tokens").GetInt32());
        Assert.Equal(1, json.RootElement.GetProperty("temperature").GetDouble());
        var system = json.RootElement.GetProperty("system").GetString()!;
        Assert.StartsWith(JsonInstruction, system, StringComparison.Ordinal);
        Assert.Contains("'city'", system, StringComparison.Ordinal);
        Assert.EndsWith("""{"type":"object","properties":{"name":{"type":"string"}}}""", system, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteRequest_ToolArgumentsNotAJsonObject_Is400NamingTheField()
    {
        var request = new ChatRequest
        {
            Model = "m",
            Messages =
            {
                Text(Role.User, "Hi"),
                new Message { Role = Role.Assistant, ToolCalls = { new ToolCall { Id = "c1", Name = "f", Arguments = "{}" }, new ToolCall { Id = "c2", Name = "f", Arguments = "{\"broken\":" } } },
            },
        };

        var error = Assert.Throws<GatewayException>(() => Write(w => AnthropicCodec.WriteRequest(w, request, "m", stream: false)));

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
        Assert.Equal("messages[1].tool_calls[1].function.arguments", error.Param);
        Assert.Contains("messages[1].tool_calls[1].function.arguments", error.Message, StringComparison.Ordinal);
    }

    // ---- Anthropic request -> neutral (the edge, strict) -----------------------------------------------

    private const string ClientRequest = """
        {
          "model": "claude-sonnet-4",
          "max_tokens": 1024,
          "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
          "messages": [
            {"role": "user", "content": "List the files."},
            {"role": "assistant", "content": [
              {"type": "thinking", "thinking": "Use the tool.", "signature": "sig-9"},
              {"type": "redacted_thinking", "data": "b3BhcXVl"},
              {"type": "text", "text": "Listing."},
              {"type": "tool_use", "id": "toolu_01", "name": "ls", "input": {"path": "."}}
            ]},
            {"role": "user", "content": [
              {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "a.txt"}, {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}}]},
              {"type": "tool_result", "tool_use_id": "toolu_02", "content": "denied", "is_error": true},
              {"type": "text", "text": "Now summarise."}
            ]}
          ],
          "tools": [{"name": "ls", "description": "List files", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}],
          "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
          "stop_sequences": ["###"],
          "temperature": 0.2,
          "top_p": 0.95,
          "top_k": 5,
          "metadata": {"user_id": "user-42"},
          "thinking": {"type": "enabled", "budget_tokens": 1024},
          "stream": true
        }
        """;

    [Fact]
    public void ReadRequest_ClaudeCodeShape_MapsEveryFieldToNeutral()
    {
        // budget_tokens must stay below max_tokens.
        var request = AnthropicCodec.ReadRequest(Parse(ClientRequest.Replace("\"max_tokens\": 1024", "\"max_tokens\": 4096", StringComparison.Ordinal)), out var stream);

        Assert.True(stream);
        Assert.Equal("claude-sonnet-4", request.Model);
        Assert.Equal(4096, request.MaxTokens);
        Assert.Equal([Role.System, Role.User, Role.Assistant, Role.Tool, Role.Tool, Role.User], request.Messages.Select(m => m.Role));
        Assert.Equal("You are Claude Code.", request.Messages[0].Content[0].Text);
        var assistant = request.Messages[2];
        Assert.Equal("Listing.", Assert.Single(assistant.Content).Text);
        Assert.Equal(new ReasoningBlock { Text = "Use the tool.", Signature = "sig-9" }, assistant.Reasoning[0]);
        Assert.Equal(new ReasoningBlock { RedactedData = "b3BhcXVl" }, assistant.Reasoning[1]);
        Assert.Equal(new ToolCall { Id = "toolu_01", Name = "ls", Arguments = """{"path": "."}""" }, Assert.Single(assistant.ToolCalls));
        Assert.Equal("toolu_01", request.Messages[3].ToolCallId);
        Assert.Equal("a.txt", request.Messages[3].Content[0].Text);
        Assert.Equal("data:image/jpeg;base64,/9j/4AAQ", request.Messages[3].Content[1].Image.Url);
        Assert.False(request.Messages[3].IsError);
        Assert.True(request.Messages[4].IsError);
        Assert.Equal("Now summarise.", request.Messages[5].Content[0].Text);
        var tool = Assert.Single(request.Tools);
        Assert.Equal(("ls", "List files"), (tool.Name, tool.Description));
        Assert.Equal(ToolChoice.Types.Mode.Required, request.ToolChoice.Mode);
        Assert.False(request.ParallelToolCalls);
        Assert.Equal(["###"], request.Stop);
        Assert.Equal((0.2, 0.95, 5), (request.Temperature, request.TopP, request.TopK));
        Assert.Equal("user-42", request.User);
        Assert.Equal(1024, request.Reasoning.BudgetTokens);
    }

    [Fact]
    public void ReadRequestThenWriteRequest_AnthropicToAnthropic_KeepsTheConversation()
    {
        var request = AnthropicCodec.ReadRequest(Parse(ClientRequest.Replace("\"max_tokens\": 1024", "\"max_tokens\": 4096", StringComparison.Ordinal)), out _);

        var json = Write(w => AnthropicCodec.WriteRequest(w, request, "claude-sonnet-4-20250514", stream: true));

        using var sent = JsonDocument.Parse(json);
        using var original = JsonDocument.Parse(ClientRequest);
        Assert.Equal("You are Claude Code.", sent.RootElement.GetProperty("system").GetString());
        // Prompt-cache markers are not part of the neutral contract; everything else in the turns survives.
        Assert.Equal(Compact(original.RootElement.GetProperty("messages").GetRawText()), Compact(sent.RootElement.GetProperty("messages").GetRawText()));
        Assert.Equal(Compact(original.RootElement.GetProperty("tools").GetRawText()), Compact(sent.RootElement.GetProperty("tools").GetRawText()));
        Assert.Equal(Compact(original.RootElement.GetProperty("tool_choice").GetRawText()), Compact(sent.RootElement.GetProperty("tool_choice").GetRawText()));
        Assert.Equal("""{"type":"enabled","budget_tokens":1024}""", sent.RootElement.GetProperty("thinking").GetRawText());
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}]}""", "max_tokens")]
    [InlineData("""{"model":"m","max_tokens":"10","messages":[{"role":"user","content":"hi"}]}""", "max_tokens")]
    [InlineData("""{"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("""{"model":"m","max_tokens":10}""", "messages")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":{}}""", "messages")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[]}""", "messages")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"robot","content":"hi"}]}""", "messages[0].role")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user"}]}""", "messages[0].content")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":42}]}""", "messages[0].content")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"video"}]}]}""", "messages[0].content[0].type")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text"}]}]}""", "messages[0].content[0].text")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_use","id":"x","name":"f","input":{}}]}]}""", "messages[0].content[0].type")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"f","input":"{}"}]}]}""", "messages[0].content[0].input")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"file:///etc/passwd"}}]}]}""", "messages[0].content[0].source.url")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"system":7}""", "system")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f"}]}""", "tools[0].input_schema")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}""", "tools[0].type")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"tool"}}""", "tool_choice.name")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"temperature":1.5}""", "temperature")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"stop_sequences":"x"}""", "stop_sequences")]
    [InlineData("""{"model":"m","max_tokens":5000,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","budget_tokens":100}}""", "thinking.budget_tokens")]
    [InlineData("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"stream":"yes"}""", "stream")]
    public void ReadRequest_InvalidInput_Is400NamingTheField(string body, string param)
    {
        var error = Assert.Throws<GatewayException>(() => AnthropicCodec.ReadRequest(Parse(body), out _));

        Assert.Equal(ErrorKind.InvalidRequest, error.Kind);
        Assert.Equal(param, error.Param);
        Assert.Contains(param, error.Message, StringComparison.Ordinal);
    }

    // ---- Anthropic response -> neutral (the provider, lenient) -----------------------------------------

    [Fact]
    public void ReadResponse_ThinkingTextAndToolUse_KeepsThinkingApartAndCountsCachedInput()
    {
        var response = AnthropicCodec.ReadResponse(Parse("""
            {
              "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
              "content": [
                {"type": "thinking", "thinking": "The user wants weather.", "signature": "EqQBCgIYAh"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"city": "Paris", "unit": "c"}},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
              ],
              "stop_reason": "tool_use", "stop_sequence": null,
              "usage": {"input_tokens": 25, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 100, "output_tokens": 42, "output_tokens_details": {"thinking_tokens": 12}}
            }
            """));

        Assert.Equal("msg_01XFDUDYJgAACzvnptvVoYEL", response.Id);
        Assert.Equal("claude-sonnet-4-20250514", response.Model);
        var choice = Assert.Single(response.Choices);
        Assert.Equal(FinishReason.ToolCalls, choice.FinishReason);
        var message = choice.Message;
        Assert.Equal(Role.Assistant, message.Role);
        Assert.Equal("Let me check.", Assert.Single(message.Content).Text);
        Assert.Equal([new ReasoningBlock { Text = "The user wants weather.", Signature = "EqQBCgIYAh" }, new ReasoningBlock { RedactedData = "EmwKAhgBEgy3va3pzix" }], message.Reasoning);
        var call = Assert.Single(message.ToolCalls);
        Assert.Equal(("toolu_01A09q90qw90lq917835lq9", "get_weather"), (call.Id, call.Name));
        Assert.Equal("""{"city": "Paris", "unit": "c"}""", call.Arguments);
        Assert.Equal(new Usage { InputTokens = 135, OutputTokens = 42, CachedInputTokens = 100, CacheCreationInputTokens = 10, ReasoningTokens = 12 }, response.Usage);
    }

    [Theory]
    [InlineData("end_turn", null, FinishReason.Stop, "")]
    [InlineData("stop_sequence", "###", FinishReason.Stop, "###")]
    [InlineData("max_tokens", null, FinishReason.Length, "")]
    [InlineData("tool_use", null, FinishReason.ToolCalls, "")]
    [InlineData("refusal", null, FinishReason.ContentFilter, "")]
    public void ReadResponse_StopReason_MapsToFinishReason(string stopReason, string? stopSequence, FinishReason expected, string expectedSequence)
    {
        var sequence = stopSequence is null ? "null" : $"\"{stopSequence}\"";
        var response = AnthropicCodec.ReadResponse(Parse($$$"""{"content":[{"type":"text","text":"x"}],"stop_reason":"{{{stopReason}}}","stop_sequence":{{{sequence}}},"usage":{"input_tokens":1,"output_tokens":1}}"""));

        Assert.Equal(expected, response.Choices[0].FinishReason);
        Assert.Equal(expectedSequence, response.Choices[0].StopSequence);
    }

    // ---- neutral response -> Anthropic (the edge) -------------------------------------------------------

    [Fact]
    public void WriteResponse_FromOpenAiShapedAnswer_ProducesExactAnthropicJson()
    {
        var response = new ChatResponse
        {
            Id = "chatcmpl-abc",
            Model = "gpt-4o-2024-08-06",
            Choices =
            {
                new Choice
                {
                    FinishReason = FinishReason.ToolCalls,
                    Message = new Message
                    {
                        Role = Role.Assistant,
                        Reasoning = { new ReasoningBlock { Text = "Hmm.", Signature = "s" } },
                        Content = { new ContentPart { Text = "Calling the tool. 😀" } },
                        ToolCalls = { new ToolCall { Id = "call_1", Name = "get_weather", Arguments = """{"city":"Zürich"}""" }, new ToolCall { Name = "noop", Arguments = "" } },
                    },
                },
            },
            Usage = new Usage { InputTokens = 135, OutputTokens = 42, CachedInputTokens = 100, CacheCreationInputTokens = 10 },
        };

        var json = Write(w => AnthropicCodec.WriteResponse(w, response, AnthropicCodec.MessageId(response.Id, "req123")));

        Assert.Equal(Compact("""
            {
              "id": "msg_req123", "type": "message", "role": "assistant", "model": "gpt-4o-2024-08-06",
              "content": [
                {"type": "thinking", "thinking": "Hmm.", "signature": "s"},
                {"type": "text", "text": "Calling the tool. 😀"},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Zürich"}},
                {"type": "tool_use", "id": "toolu_req123_1", "name": "noop", "input": {}}
              ],
              "stop_reason": "tool_use", "stop_sequence": null,
              "usage": {"input_tokens": 25, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 100, "output_tokens": 42}
            }
            """), json);
    }

    [Theory]
    [InlineData(FinishReason.Stop, "", "end_turn", null)]
    [InlineData(FinishReason.Stop, "###", "stop_sequence", "###")]
    [InlineData(FinishReason.Length, "", "max_tokens", null)]
    [InlineData(FinishReason.ContentFilter, "", "refusal", null)]
    [InlineData(FinishReason.Unspecified, "", "end_turn", null)]
    public void WriteResponse_FinishReason_MapsToStopReason(FinishReason finish, string stopSequence, string expected, string? expectedSequence)
    {
        var response = new ChatResponse { Id = "msg_1", Model = "m", Choices = { new Choice { FinishReason = finish, StopSequence = stopSequence, Message = Text(Role.Assistant, "x") } } };

        using var json = JsonDocument.Parse(Write(w => AnthropicCodec.WriteResponse(w, response, "msg_1")));

        Assert.Equal(expected, json.RootElement.GetProperty("stop_reason").GetString());
        Assert.Equal(expectedSequence, json.RootElement.GetProperty("stop_sequence").GetString());
    }

    [Fact]
    public void WriteResponse_ProviderArgumentsNotJson_IsUpstreamError()
    {
        var response = new ChatResponse { Model = "m", Choices = { new Choice { Message = new Message { ToolCalls = { new ToolCall { Id = "c", Name = "f", Arguments = "{\"a\":" } } } } } };

        var error = Assert.Throws<GatewayException>(() => Write(w => AnthropicCodec.WriteResponse(w, response, "msg_1")));

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
    }

    private static Message Text(Role role, string text) => new() { Role = role, Content = { new ContentPart { Text = text } } };
}
