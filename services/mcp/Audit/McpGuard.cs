using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Guard.V1;
using Gateway.Contracts.Inference.V1;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using GuardAction = Gateway.Contracts.Guard.V1.Action;
using Role = Gateway.Contracts.Inference.V1.Role;

namespace Gateway.Mcp.Audit;

// What the guard found in one tools/call: types, counts and actions, never values.
public sealed record McpGuardFinding(string Type, int Count, string Action, string Direction);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(McpServerConfig))]
internal sealed partial class McpAuditJson : JsonSerializerContext;

// The guard's view of one call: the policy that applied, what it found, and the placeholder table for
// pseudonymised arguments (restored in the result, so only the upstream sees placeholders).
public sealed class McpGuardState
{
    private GuardAction _action = GuardAction.Unspecified;

    public string Policy { get; private set; } = "";
    // The strongest action taken on the call (empty: the guard did not run).
    public string Action => _action == GuardAction.Unspecified ? "" : ActionName(_action);
    public List<McpGuardFinding> Findings { get; } = [];
    internal IReadOnlyDictionary<string, string> Pseudonyms { get; set; } = new Dictionary<string, string>();

    internal void Add(Verdict verdict)
    {
        if (Policy.Length == 0 || verdict.Findings.Count > 0)
        {
            Policy = verdict.Policy;
        }
        if (Rank(verdict.Action) >= Rank(_action))
        {
            _action = verdict.Action == GuardAction.Unspecified ? GuardAction.Allow : verdict.Action;
        }
        Findings.AddRange(verdict.Findings.Select(f => new McpGuardFinding(f.EntityType, f.Count, ActionName(f.Action), f.Direction)));
    }

    private static int Rank(GuardAction action) => action switch
    {
        GuardAction.Unspecified => 0,
        GuardAction.Block => 6,
        GuardAction.Pseudonymize => 5,
        GuardAction.RouteSelfHosted => 4,
        GuardAction.Redact => 3,
        GuardAction.Audit => 2,
        _ => 1,
    };

    private static string ActionName(GuardAction action) => action == GuardAction.RouteSelfHosted ? "route_self_hosted" : action.ToString().ToLowerInvariant();
}

// Tool arguments and tool results pass through the same guard (IGuardService) and the same per team/key
// policies as model traffic. Arguments are checked as input before they reach the upstream (block, redact,
// pseudonymise, audit); results are checked with the policy's output actions before they reach the agent,
// and placeholders the upstream echoes back are restored. Every string in the JSON is one text part, so a
// rewrite never breaks the JSON around it.
public sealed class McpGuard(IGuardService guard, ConfigMonitor config, ILogger<McpGuard> logger)
{
    public const int BlockedCode = -32014;

    // The audit outcome of a call the guard stopped: blocked by policy, or an error when it could not run.
    public static string Outcome(McpProtocolException error) => error.ErrorCode == (McpErrorCode)BlockedCode ? "blocked" : "error";

    public async Task<IDictionary<string, JsonElement>?> ArgumentsAsync(Principal principal, string tool, IDictionary<string, JsonElement>? arguments, McpGuardState state, CancellationToken cancellationToken)
    {
        if (arguments is null || arguments.Count == 0)
        {
            return arguments;
        }
        var node = JsonSerializer.SerializeToNode(arguments)!;
        var texts = Strings(node);
        if (texts.Count == 0)
        {
            return arguments;
        }
        var message = new Message { Role = Role.Tool };
        message.Content.AddRange(texts.Select(t => new ContentPart { Text = t }));
        var request = new ChatRequest { Messages = { message } };
        var verdict = await CallAsync(tool, () => guard.CheckInputAsync(new CheckInputRequest { Principal = principal, Request = request }, cancellationToken));
        state.Add(verdict);
        if (verdict.Action == GuardAction.Block)
        {
            throw Blocked(verdict, tool, "arguments");
        }
        if (verdict.Pseudonyms.Count > 0)
        {
            state.Pseudonyms = new Dictionary<string, string>(verdict.Pseudonyms, StringComparer.Ordinal);
        }
        if (verdict.RewrittenRequest is not { } rewritten)
        {
            return arguments;
        }
        var parts = rewritten.Messages[0].Content;
        var index = 0;
        Rewrite(node, _ => parts[index++].Text);
        return node.Deserialize<Dictionary<string, JsonElement>>();
    }

    public async Task<CallToolResult> ResultAsync(Principal principal, string tool, CallToolResult result, McpGuardState state, CancellationToken cancellationToken)
    {
        var structured = result.StructuredContent is { } element ? JsonSerializer.SerializeToNode(element) : null;
        var texts = new List<string>();
        foreach (var block in result.Content)
        {
            if (block is TextContentBlock text)
            {
                texts.Add(text.Text);
            }
        }
        var blockTexts = texts.Count;
        texts.AddRange(Strings(structured));
        if (texts.Count == 0)
        {
            return result;
        }
        var message = new Message { Role = Role.Assistant };
        message.Content.AddRange(texts.Select(t => new ContentPart { Text = t }));
        var response = new ChatResponse { Choices = { new Choice { Message = message } } };
        var verdict = await CallAsync(tool, () => guard.CheckOutputAsync(new CheckOutputRequest { Principal = principal, Response = response }, cancellationToken));
        state.Add(verdict);
        if (verdict.Action == GuardAction.Block)
        {
            throw Blocked(verdict, tool, "result");
        }
        var guarded = verdict.RewrittenResponse?.Choices[0].Message.Content.Select(p => p.Text).ToList() ?? texts;
        if (ReferenceEquals(guarded, texts) && state.Pseudonyms.Count == 0)
        {
            return result;
        }
        var pseudonyms = state.Pseudonyms;
        string Restore(string text) => pseudonyms.Count == 0 ? text : Gateway.Guard.Pseudonyms.Restore(text, pseudonyms);
        var index = 0;
        var content = new List<ContentBlock>(result.Content.Count);
        foreach (var block in result.Content)
        {
            content.Add(block is TextContentBlock text
                ? new TextContentBlock { Text = Restore(guarded[index++]), Annotations = text.Annotations, Meta = text.Meta }
                : block);
        }
        index = blockTexts;
        if (structured is not null)
        {
            Rewrite(structured, _ => Restore(guarded[index++]));
        }
        return new CallToolResult
        {
            Content = content,
            IsError = result.IsError,
            StructuredContent = structured is null ? result.StructuredContent : JsonSerializer.SerializeToElement(structured),
            Meta = result.Meta,
        };
    }

    private async Task<Verdict> CallAsync(string tool, Func<Task<Verdict>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            var failClosed = config.Current.Guard.FailClosed;
            McpLog.GuardFailed(logger, error, tool, failClosed);
            if (failClosed)
            {
                throw new McpProtocolException($"The guard could not inspect the call to '{tool}', so nothing was sent; try again shortly.", (McpErrorCode)McpGateway.UnavailableCode);
            }
            return new Verdict { Action = GuardAction.Allow, Policy = "unavailable" };
        }
    }

    // Names the entity types and the policy, never a value.
    private static McpProtocolException Blocked(Verdict verdict, string tool, string what)
    {
        var types = verdict.Findings.Where(f => f.Action == GuardAction.Block).Select(f => f.EntityType).Distinct().Order(StringComparer.Ordinal);
        return new McpProtocolException($"Guard policy '{verdict.Policy}' blocked the {what} of '{tool}': found {string.Join(", ", types)}.", (McpErrorCode)BlockedCode);
    }

    private static List<string> Strings(JsonNode? node)
    {
        var texts = new List<string>();
        Rewrite(node, text =>
        {
            texts.Add(text);
            return text;
        });
        return texts;
    }

    // Visits every string value in document order (the order Strings lists them), replacing each by map's answer.
    private static void Rewrite(JsonNode? node, Func<string, string> map)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToArray())
                {
                    if (value is JsonValue leaf && leaf.GetValueKind() == JsonValueKind.String)
                    {
                        obj[key] = map(leaf.GetValue<string>());
                    }
                    else
                    {
                        Rewrite(value, map);
                    }
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue leaf && leaf.GetValueKind() == JsonValueKind.String)
                    {
                        array[i] = map(leaf.GetValue<string>());
                    }
                    else
                    {
                        Rewrite(array[i], map);
                    }
                }
                break;
        }
    }
}


