using Gateway.Common.Errors;
using Gateway.Contracts.Guard.V1;

namespace Gateway.Router.Pipeline;

// The errors a guard verdict turns into. They name entity types and the policy, never a value.
internal static class GuardRefusal
{
    public static GatewayException Blocked(Verdict verdict, string what)
    {
        var types = verdict.Findings.Where(f => f.Action == Contracts.Guard.V1.Action.Block).Select(f => f.EntityType).Distinct().Order(StringComparer.Ordinal).ToList();
        var code = types.Any(t => t != "INJECTION" && !t.StartsWith("MODERATION_", StringComparison.Ordinal)) ? "pii_detected"
            : types.Contains("INJECTION") ? "prompt_injection_detected"
            : "content_policy_violation";
        if (what == "response")
        {
            code = "output_blocked";
        }
        return new GatewayException(ErrorKind.GuardBlocked,
            $"The {what} was blocked by guard policy '{verdict.Policy}': it contains {string.Join(", ", types)}.",
            what == "request" ? "messages" : null, code);
    }

    public static GatewayException NoResidentTarget(Verdict verdict, string model)
    {
        var types = verdict.Findings.Where(f => f.Action == Contracts.Guard.V1.Action.RouteSelfHosted).Select(f => f.EntityType).Distinct().Order(StringComparer.Ordinal);
        return new GatewayException(ErrorKind.GuardBlocked,
            $"Guard policy '{verdict.Policy}' allows this request ({string.Join(", ", types)}) only on {string.Join(" or ", verdict.Residency)} providers, and no deployment of '{model}' or its fallbacks is one. Use a model served by such a provider.",
            "model", "residency_unavailable");
    }
}
