using Gateway.Common.Configuration;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Pipeline;

namespace Gateway.Budget.Tests;

public sealed class TokenCounterTests
{
    private static ChatRequest Request(string text, int? maxTokens = null)
    {
        var request = new ChatRequest { Model = "gpt-4o" };
        request.Messages.Add(new Message { Role = Role.User, Content = { new ContentPart { Text = text } } });
        if (maxTokens is { } max)
        {
            request.MaxTokens = max;
        }
        return request;
    }

    [Fact]
    public void CountInput_Gpt4o_UsesO200kPlusFraming()
    {
        // "Hello, world!" is 4 tokens in o200k_base; 3 priming + 4 per message.
        Assert.Equal(11, TokenCounter.CountInput(Request("Hello, world!"), "gpt-4o-2024-08-06"));
    }

    [Fact]
    public void CountInput_OtherFamily_AddsMargin()
    {
        var text = string.Join(' ', Enumerable.Repeat("budget", 100));
        Assert.True(TokenCounter.CountInput(Request(text), "claude-sonnet-4-20250514") > TokenCounter.CountInput(Request(text), "gpt-4"));
    }

    [Fact]
    public void MaxCost_WithMaxTokens_IsInputPlusMaxOutputAtListPrice()
    {
        var price = new PriceConfig { Input = 2.5m, Output = 10m };
        var (cost, tokens) = CostCalculator.MaxCost(price, Request("Hello, world!", maxTokens: 100), "gpt-4o");
        Assert.Equal(111, tokens);
        Assert.Equal((11 * 2.5 + 100 * 10) / 1_000_000, cost, 12);
        var (_, defaultTokens) = CostCalculator.MaxCost(price, Request("Hello, world!"), "gpt-4o", defaultMaxTokens: 2048);
        Assert.Equal(11 + 2048, defaultTokens);
    }
}
