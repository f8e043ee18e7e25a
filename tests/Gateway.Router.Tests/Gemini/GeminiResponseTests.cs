using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Providers.Gemini;
using static Gateway.Router.Tests.Gemini.GeminiTestData;

namespace Gateway.Router.Tests.Gemini;

// generateContent answers (pretty-printed, as Google sends them) -> neutral responses.
public sealed class GeminiResponseTests
{
    private static ChatResponse Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        return GeminiCodec.ReadResponse(document.RootElement);
    }

    [Fact]
    public void ReadResponse_TextAnswer_MapsTextUsageModelAndId()
    {
        var response = Read("""
            {
              "candidates": [
                {
                  "content": {
                    "parts": [ { "text": "Grüße aus " }, { "text": "世界 😀" } ],
                    "role": "model"
                  },
                  "finishReason": "STOP",
                  "avgLogprobs": -0.12
                }
              ],
              "usageMetadata": {
                "promptTokenCount": 120,
                "candidatesTokenCount": 9,
                "totalTokenCount": 179,
                "cachedContentTokenCount": 100,
                "thoughtsTokenCount": 50,
                "promptTokensDetails": [ { "modality": "TEXT", "tokenCount": 120 } ]
              },
              "modelVersion": "gemini-2.5-flash",
              "responseId": "mH3kaN_xyz"
            }
            """);

        Assert.Equal("mH3kaN_xyz", response.Id);
        Assert.Equal("gemini-2.5-flash", response.Model);
        var choice = Assert.Single(response.Choices);
        Assert.Equal(0, choice.Index);
        Assert.Equal(FinishReason.Stop, choice.FinishReason);
        Assert.Equal("Grüße aus 世界 😀", Assert.Single(choice.Message.Content).Text);
        Assert.Equal(Role.Assistant, choice.Message.Role);
        Assert.Equal(120, response.Usage.InputTokens);
        Assert.Equal(59, response.Usage.OutputTokens);
        Assert.Equal(100, response.Usage.CachedInputTokens);
        Assert.Equal(50, response.Usage.ReasoningTokens);
    }

    [Fact]
    public void ReadResponse_FunctionCalls_BecomeToolCallsWithIdsAndCompactArguments()
    {
        var response = Read("""
            {
              "candidates": [
                {
                  "content": {
                    "parts": [
                      {
                        "functionCall": {
                          "name": "lookup",
                          "args": {
                            "query": "naïve café",
                            "limit": 3
                          }
                        },
                        "thoughtSignature": "CiQBVKhc7sig=="
                      },
                      { "functionCall": { "id": "fc-7", "name": "get_time" } }
                    ],
                    "role": "model"
                  },
                  "finishReason": "STOP"
                }
              ],
              "usageMetadata": { "promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15 },
              "modelVersion": "gemini-2.5-pro"
            }
            """);

        var choice = Assert.Single(response.Choices);
        Assert.Equal(FinishReason.ToolCalls, choice.FinishReason);
        Assert.Empty(choice.Message.Content);
        Assert.Collection(choice.Message.ToolCalls,
            call =>
            {
                Assert.Equal("call_0", call.Id);
                Assert.Equal("lookup", call.Name);
                Assert.Equal("""{"query":"naïve café","limit":3}""", call.Arguments);
            },
            call =>
            {
                Assert.Equal("fc-7", call.Id);
                Assert.Equal("get_time", call.Name);
                Assert.Equal("{}", call.Arguments);
            });
        // The signature is kept apart from any text so it can go back on the call next turn.
        var signature = Assert.Single(choice.Message.Reasoning);
        Assert.Equal("CiQBVKhc7sig==", signature.Signature);
        Assert.Equal("", signature.Text);
    }

    [Fact]
    public void ReadResponse_ThenWriteRequest_ToolCallHistoryRoundTrips()
    {
        var response = Read("""
            {"candidates":[{"content":{"role":"model","parts":[
              {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"sig-1"}]},"finishReason":"STOP"}]}
            """);
        var request = new ChatRequest
        {
            Model = "m",
            Messages =
            {
                new Message { Role = Role.User, Content = { new ContentPart { Text = "Weather in Paris?" } } },
                response.Choices[0].Message,
                new Message { Role = Role.Tool, ToolCallId = response.Choices[0].Message.ToolCalls[0].Id, Content = { new ContentPart { Text = """{"temp_c":21}""" } } },
            },
        };

        var json = Write(w => GeminiCodec.WriteRequest(w, request));

        AssertJson("""
            {"contents":[
              {"role":"user","parts":[{"text":"Weather in Paris?"}]},
              {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"sig-1"}]},
              {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp_c":21}}}]}]}
            """, json);
    }

    [Fact]
    public void ReadResponse_ThoughtParts_GoToReasoningNeverIntoText()
    {
        var response = Read("""
            {"candidates":[{"content":{"role":"model","parts":[
              {"text":"**Weighing options** The user wants a number.","thought":true},
              {"text":"42"}]},"finishReason":"STOP"}],
             "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1,"thoughtsTokenCount":30,"totalTokenCount":35}}
            """);

        var message = response.Choices[0].Message;
        Assert.Equal("42", Assert.Single(message.Content).Text);
        Assert.Equal("**Weighing options** The user wants a number.", Assert.Single(message.Reasoning).Text);
        Assert.Equal(31, response.Usage.OutputTokens);
        Assert.Equal(30, response.Usage.ReasoningTokens);
    }

    [Theory]
    [InlineData("STOP", FinishReason.Stop)]
    [InlineData("MAX_TOKENS", FinishReason.Length)]
    [InlineData("SAFETY", FinishReason.ContentFilter)]
    [InlineData("RECITATION", FinishReason.ContentFilter)]
    [InlineData("BLOCKLIST", FinishReason.ContentFilter)]
    [InlineData("PROHIBITED_CONTENT", FinishReason.ContentFilter)]
    [InlineData("SPII", FinishReason.ContentFilter)]
    [InlineData("OTHER", FinishReason.Stop)]
    public void ReadResponse_FinishReason_MapsToNeutral(string reason, FinishReason expected)
    {
        var response = Read($$"""{"candidates":[{"content":{"role":"model","parts":[{"text":"x"}]},"finishReason":"{{reason}}"}]}""");

        Assert.Equal(expected, response.Choices[0].FinishReason);
    }

    [Fact]
    public void ReadResponse_SafetyStopWithoutContent_IsContentFilterWithEmptyMessage()
    {
        var response = Read("""{"candidates":[{"finishReason":"SAFETY","safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}]}""");

        var choice = Assert.Single(response.Choices);
        Assert.Equal(FinishReason.ContentFilter, choice.FinishReason);
        Assert.Empty(choice.Message.Content);
    }

    [Fact]
    public void ReadResponse_BlockedPrompt_ThrowsContentPolicy()
    {
        var error = Assert.Throws<GatewayException>(() => Read("""
            {
              "promptFeedback": {
                "blockReason": "SAFETY",
                "safetyRatings": [ { "category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH" } ]
              },
              "usageMetadata": { "promptTokenCount": 8, "totalTokenCount": 8 },
              "modelVersion": "gemini-2.5-flash"
            }
            """));

        Assert.Equal(ErrorKind.ContentPolicy, error.Kind);
        Assert.Contains("SAFETY", error.Message, StringComparison.Ordinal);
        Assert.False(error.IsRetryable);
    }

    [Fact]
    public void ReadResponse_NoCandidatesAndNoBlockReason_IsUpstreamError()
    {
        var error = Assert.Throws<GatewayException>(() => Read("""{"usageMetadata":{"promptTokenCount":8}}"""));

        Assert.Equal(ErrorKind.UpstreamError, error.Kind);
    }

    [Fact]
    public void ReadResponse_SeveralCandidates_OneChoiceEachWithItsIndex()
    {
        // proto3 JSON leaves out index 0.
        var response = Read("""
            {"candidates":[
              {"content":{"role":"model","parts":[{"text":"A"}]},"finishReason":"STOP"},
              {"content":{"role":"model","parts":[{"text":"B"}]},"finishReason":"MAX_TOKENS","index":1}]}
            """);

        Assert.Equal([0, 1], response.Choices.Select(c => c.Index));
        Assert.Equal(["A", "B"], response.Choices.Select(c => c.Message.Content[0].Text));
        Assert.Equal([FinishReason.Stop, FinishReason.Length], response.Choices.Select(c => c.FinishReason));
    }

    [Fact]
    public void ReadEmbedResponse_Vectors_KeepInputOrder()
    {
        using var document = JsonDocument.Parse("""{"embeddings":[{"values":[0.25,-1]},{"values":[0.5,2]}]}""");

        var response = GeminiCodec.ReadEmbedResponse(document.RootElement, "gemini-embedding-001");

        Assert.Equal("gemini-embedding-001", response.Model);
        Assert.Equal([0, 1], response.Data.Select(e => e.Index));
        Assert.Equal([0.25f, -1f], response.Data[0].Vector);
        Assert.Equal([0.5f, 2f], response.Data[1].Vector);
    }
}
