using Gateway.Common.Clients;
using System.Text;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Guard.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Guard.Policy;
using GuardAction = Gateway.Contracts.Guard.V1.Action;

namespace Gateway.Guard;

// Applies the policy a request's scope selects to every text it carries (message strings and parts, system
// prompts, tool-call arguments, tool results, embeddings input) and to responses. Verdicts carry findings as
// types and counts; values never leave except as the placeholder table the router needs to restore them.
public sealed class GuardEngine(ConfigMonitor config, GuardTelemetry telemetry, ExternalModeration? moderation = null) : IGuardService
{
    private const string ExternalPrefix = "MODERATION_EXTERNAL_";

    private const string NoPolicy = "no guard policy applies to this request (guard.assign): content passed without inspection";

    private PolicySet? _policies;

    internal PolicySet Policies
    {
        get
        {
            var current = config.Current.Guard;
            var policies = _policies;
            if (policies is null || !ReferenceEquals(policies.Config, current))
            {
                policies = new PolicySet(current);
                _policies = policies;
            }
            return policies;
        }
    }

    public async Task<Verdict> CheckInputAsync(CheckInputRequest request, CancellationToken cancellationToken)
    {
        var verdict = CheckInput(request.Principal, request.Request);
        if (config.Current.Guard.Moderation.External is not { } external || ReferenceEquals(verdict.Note, NoPolicy))
        {
            return verdict;
        }
        verdict.ScanOutput |= external.Output;
        if (verdict.Action == GuardAction.Block)
        {
            return verdict;
        }
        // A request the policy keeps on self-hosted providers goes to the endpoint only if it runs there too.
        var resident = verdict.Action != GuardAction.RouteSelfHosted || (external.Residency is { } residency && verdict.Residency.Contains(residency));
        var texts = resident ? Texts(verdict.RewrittenRequest ?? request.Request) : [];
        await ModerateAsync(external, verdict, texts, resident ? null : "the request must stay on " + string.Join(" or ", verdict.Residency) + " providers", "input", cancellationToken);
        if (verdict.Action == GuardAction.Block)
        {
            verdict.RewrittenRequest = null;
            verdict.Pseudonyms.Clear();
        }
        return verdict;
    }

    public async Task<Verdict> CheckOutputAsync(CheckOutputRequest request, CancellationToken cancellationToken)
    {
        var verdict = CheckOutput(request.Principal, request.Response, request.Model);
        if (config.Current.Guard.Moderation.External is not { Output: true } external || ReferenceEquals(verdict.Note, NoPolicy) || verdict.Action == GuardAction.Block)
        {
            return verdict;
        }
        var response = verdict.RewrittenResponse ?? request.Response;
        var texts = new List<string>();
        foreach (var choice in response.Choices)
        {
            if (choice.Message is { } message)
            {
                AddTexts(message, texts);
            }
        }
        await ModerateAsync(external, verdict, texts, null, "output", cancellationToken);
        if (verdict.Action == GuardAction.Block)
        {
            verdict.RewrittenResponse = null;
        }
        return verdict;
    }

    private static List<string> Texts(ChatRequest request)
    {
        var texts = new List<string>();
        foreach (var message in request.Messages)
        {
            AddTexts(message, texts);
        }
        return texts;
    }

    private static void AddTexts(Message message, List<string> texts)
    {
        foreach (var part in message.Content)
        {
            if (part.PartCase == ContentPart.PartOneofCase.Text && part.Text.Length > 0)
            {
                texts.Add(part.Text);
            }
        }
        foreach (var block in message.Reasoning)
        {
            if (block.Text.Length > 0)
            {
                texts.Add(block.Text);
            }
        }
        foreach (var call in message.ToolCalls)
        {
            if (call.Arguments.Length > 0)
            {
                texts.Add(call.Arguments);
            }
        }
    }

    // Asks the external endpoint about the texts and folds its flagged categories into the verdict: block wins;
    // audit is recorded. When it cannot answer (or may not be asked: `refused`), on_error decides.
    private async Task ModerateAsync(ExternalModerationConfig external, Verdict verdict, List<string> texts, string? refused, string direction, CancellationToken cancellationToken)
    {
        if (texts.Count == 0 && refused is null)
        {
            return;
        }
        if (moderation is null)
        {
            throw new InvalidOperationException("guard.moderation.external is configured but no ExternalModeration client is registered");
        }
        var outcome = refused is null ? await moderation.CheckAsync(external, texts, cancellationToken) : ModerationOutcome.Failed(refused);
        var findings = new List<Finding>();
        if (outcome.Error is { } error)
        {
            if (external.OnError != "fail_open")
            {
                throw new GatewayException(ErrorKind.Unavailable, $"The moderation service could not check this {(direction == "input" ? "request" : "response")}, so it was not passed on; try again shortly.", code: ModerationUnavailable);
            }
            findings.Add(new Finding { EntityType = ExternalPrefix + "UNAVAILABLE", Count = 1, Action = GuardAction.Audit, Direction = direction });
            verdict.Note += $"; external moderation {error}: passed unmoderated (on_error: fail_open)";
        }
        foreach (var (category, count) in outcome.Flagged.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var action = CompiledPolicy.Parse(external.Categories.GetValueOrDefault(category) ?? external.Categories.GetValueOrDefault(GuardNames.Default) ?? "block");
            if (action != GuardAction.Allow)
            {
                findings.Add(new Finding { EntityType = ExternalPrefix + CategoryName(category), Count = count, Action = action, Direction = direction });
            }
        }
        if (findings.Count == 0)
        {
            return;
        }
        verdict.Findings.AddRange(findings);
        telemetry.RecordFindings(verdict.Policy, direction, findings);
        var blocked = findings.Where(f => f.Action == GuardAction.Block).Select(f => f.EntityType).ToList();
        if (blocked.Count > 0)
        {
            verdict.Action = GuardAction.Block;
            verdict.Note = $"blocked by the external moderation endpoint under policy '{verdict.Policy}': {string.Join(", ", blocked)}";
        }
        else if (verdict.Action == GuardAction.Allow)
        {
            verdict.Action = GuardAction.Audit;
        }
    }

    // The code a refusal carries when the moderation endpoint could not answer; the router passes it on as 503.
    public const string ModerationUnavailable = "moderation_unavailable";

    // self-harm/intent -> SELF_HARM_INTENT
    private static string CategoryName(string category)
    {
        var name = new StringBuilder(category.Length);
        foreach (var c in category)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        }
        return name.ToString();
    }

    public Task<ScanResponse> ScanAsync(ScanRequest request, CancellationToken cancellationToken)
        => Task.FromResult(Scan(request));

    internal Verdict CheckInput(Principal? principal, ChatRequest request)
    {
        var policy = Policies.Resolve(principal, request.Model);
        if (policy is null)
        {
            return new Verdict { Action = GuardAction.Allow, Policy = "none", Note = NoPolicy };
        }
        var session = new ScanSession(policy, output: false);
        ChatRequest? rewritten = null;
        for (var m = 0; m < request.Messages.Count; m++)
        {
            var message = request.Messages[m];
            if (message.Reasoning.Count > 0 && ScanReasoning(session, message.Reasoning, threats: true) is { } reasoning)
            {
                rewritten ??= request.Clone();
                Replace(rewritten.Messages[m].Reasoning, reasoning);
            }
            for (var p = 0; p < message.Content.Count; p++)
            {
                if (message.Content[p].PartCase == ContentPart.PartOneofCase.Text
                    && session.Process(message.Content[p].Text, threats: true) is { } text)
                {
                    rewritten ??= request.Clone();
                    rewritten.Messages[m].Content[p].Text = text;
                }
            }
            for (var t = 0; t < message.ToolCalls.Count; t++)
            {
                if (session.Process(message.ToolCalls[t].Arguments, threats: true) is { } arguments)
                {
                    rewritten ??= request.Clone();
                    rewritten.Messages[m].ToolCalls[t].Arguments = arguments;
                }
            }
        }
        var verdict = Decide(session, "input");
        verdict.ScanOutput = policy.ScansOutput;
        if (verdict.Action == GuardAction.RouteSelfHosted)
        {
            verdict.Residency.AddRange(policy.Residency);
        }
        if (verdict.Action != GuardAction.Block && rewritten is not null)
        {
            verdict.RewrittenRequest = rewritten;
            verdict.Pseudonyms.Add(session.Pseudonyms);
        }
        return verdict;
    }

    internal Verdict CheckOutput(Principal? principal, ChatResponse response, string model)
    {
        var policy = Policies.Resolve(principal, model);
        if (policy is null || !policy.ScansOutput)
        {
            return new Verdict { Action = GuardAction.Allow, Policy = policy?.Name ?? "none", Note = policy is null ? NoPolicy : "the policy does not scan output" };
        }
        var session = new ScanSession(policy, output: true);
        ChatResponse? rewritten = null;
        for (var c = 0; c < response.Choices.Count; c++)
        {
            var message = response.Choices[c].Message;
            if (message is null)
            {
                continue;
            }
            if (message.Reasoning.Count > 0 && ScanReasoning(session, message.Reasoning, threats: true) is { } reasoning)
            {
                rewritten ??= response.Clone();
                Replace(rewritten.Choices[c].Message.Reasoning, reasoning);
            }
            for (var p = 0; p < message.Content.Count; p++)
            {
                if (message.Content[p].PartCase == ContentPart.PartOneofCase.Text
                    && session.Process(message.Content[p].Text, threats: true) is { } text)
                {
                    rewritten ??= response.Clone();
                    rewritten.Choices[c].Message.Content[p].Text = text;
                }
            }
            for (var t = 0; t < message.ToolCalls.Count; t++)
            {
                if (session.Process(message.ToolCalls[t].Arguments, threats: false) is { } arguments)
                {
                    rewritten ??= response.Clone();
                    rewritten.Choices[c].Message.ToolCalls[t].Arguments = arguments;
                }
            }
        }
        var verdict = Decide(session, "output");
        if (verdict.Action != GuardAction.Block && rewritten is not null)
        {
            verdict.RewrittenResponse = rewritten;
        }
        return verdict;
    }

    // Thinking blocks are scanned like any other text. A block the policy rewrites (redact, pseudonymize) cannot
    // keep its signature: Anthropic verifies signed thinking and refuses an altered block. So a signed block
    // that needs rewriting is dropped (previous turns' thinking may be omitted; the model sees no value), and an
    // unsigned one (other providers' reasoning) is rewritten in place. Redacted thinking carries only the
    // provider's encrypted payload and is passed as it is. Returns null when nothing changes.
    private static List<ReasoningBlock>? ScanReasoning(ScanSession session, IList<ReasoningBlock> blocks, bool threats)
    {
        List<ReasoningBlock>? result = null;
        for (var i = 0; i < blocks.Count; i++)
        {
            var block = blocks[i];
            if (block.Text.Length == 0 || session.Process(block.Text, threats) is not { } text)
            {
                result?.Add(block);
                continue;
            }
            result ??= [.. blocks.Take(i)];
            if (block.Signature.Length == 0)
            {
                result.Add(new ReasoningBlock(block) { Text = text });
            }
        }
        return result;
    }

    private static void Replace(Google.Protobuf.Collections.RepeatedField<ReasoningBlock> target, List<ReasoningBlock> blocks)
    {
        target.Clear();
        target.AddRange(blocks);
    }

    internal ScanResponse Scan(ScanRequest request)
    {
        var policy = request.Policy.Length > 0 ? Policies.Named(request.Policy) : Policies.Resolve(request.Principal, "");
        // With no policy, report what the detectors see with every type audited.
        policy ??= new CompiledPolicy("none", new GuardPolicyConfig());
        var session = new ScanSession(policy, request.Output) { Spans = [] };
        var rewritten = session.Process(request.Text, threats: true);
        var response = new ScanResponse { Policy = policy.Name, Action = session.Decision(), Rewritten = rewritten ?? request.Text };
        response.Findings.AddRange(session.Findings(request.Output ? "output" : "input"));
        response.Spans.AddRange(session.Spans);
        return response;
    }

    private Verdict Decide(ScanSession session, string direction)
    {
        var action = session.Decision();
        var verdict = new Verdict { Action = action, Policy = session.Policy.Name };
        verdict.Findings.AddRange(session.Findings(direction));
        verdict.Note = action switch
        {
            GuardAction.Block => $"blocked by policy '{session.Policy.Name}': {session.TypesWith(GuardAction.Block)}",
            GuardAction.RouteSelfHosted => $"policy '{session.Policy.Name}' keeps {session.TypesWith(GuardAction.RouteSelfHosted)} on {string.Join(" or ", session.Policy.Residency)} providers",
            GuardAction.Allow => $"policy '{session.Policy.Name}': nothing found",
            _ => $"policy '{session.Policy.Name}': {verdict.Findings.Sum(f => f.Count)} finding(s)",
        };
        telemetry.Record(verdict, direction);
        return verdict;
    }
}
