using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Guard.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Guard.Policy;
using GuardAction = Gateway.Contracts.Guard.V1.Action;

namespace Gateway.Guard;

// Applies the policy a request's scope selects to every text it carries (message strings and parts, system
// prompts, tool-call arguments, tool results, embeddings input) and to responses. Verdicts carry findings as
// types and counts; values never leave except as the placeholder table the router needs to restore them.
public sealed class GuardEngine(ConfigMonitor config, GuardTelemetry telemetry) : IGuardService
{
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

    public Task<Verdict> CheckInputAsync(CheckInputRequest request, CancellationToken cancellationToken)
        => Task.FromResult(CheckInput(request.Principal, request.Request));

    public Task<Verdict> CheckOutputAsync(CheckOutputRequest request, CancellationToken cancellationToken)
        => Task.FromResult(CheckOutput(request.Principal, request.Response, request.Model));

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
