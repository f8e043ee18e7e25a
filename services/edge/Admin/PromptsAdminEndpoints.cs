using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Common.Analytics;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Security;
using Gateway.Contracts.Prompts.V1;
using Gateway.Edge.Http;
using Gateway.Prompts.Experiments;
using Gateway.Router.Providers;
using Gateway.Traces.Storage;
using Google.Protobuf;

namespace Gateway.Edge.Admin;

// /admin/v1/prompts: versions (create, list, get, diff), labels (move, history) and experiments (start, list,
// statistics, stop and promote). The admin credential may do everything; a gateway key with the role
// prompts.editor_role may create versions and move labels that are not protected. Errors use the OpenAI shape.
public static class PromptsAdminEndpoints
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true));

    private sealed record Caller(string Actor, bool Admin);

    public static IEndpointRouteBuilder MapPromptsAdmin(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/admin/v1/prompts");
        group.MapGet("", (HttpContext c, IPromptService p) => RunAsync(c, async _ => Proto(await p.ListPromptsAsync(c.RequestAborted))));
        group.MapPost("/{name}/versions", (HttpContext c, IPromptService p, string name) => RunAsync(c, caller => CreateVersionAsync(c, p, name, caller)));
        group.MapGet("/{name}/versions", (HttpContext c, IPromptService p, string name)
            => RunAsync(c, async _ => Proto(await p.ListVersionsAsync(new ListVersionsRequest { Name = name }, c.RequestAborted))));
        group.MapGet("/{name}/versions/{version}", (HttpContext c, IPromptService p, string name, string version)
            => RunAsync(c, async _ => Proto(await p.GetVersionAsync(int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                ? new GetVersionRequest { Name = name, Version = number }
                : new GetVersionRequest { Name = name, Label = version }, c.RequestAborted))));
        group.MapGet("/{name}/diff", (HttpContext c, IPromptService p, string name) => RunAsync(c, async _ => Proto(await p.DiffAsync(new DiffRequest
        {
            Name = name,
            FromVersion = QueryInt(c, "from"),
            ToVersion = QueryInt(c, "to"),
        }, c.RequestAborted))));
        group.MapPut("/{name}/labels/{label}", (HttpContext c, IPromptService p, string name, string label) => RunAsync(c, async caller =>
        {
            using var body = await BodyAsync(c);
            var version = JsonRead.RequireObject(body.RootElement, "body").TryGetProperty("version", out var v)
                && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var number) && number > 0
                ? number
                : throw GatewayException.BadRequest("Expected a JSON body {\"version\": N}.", "version");
            return Proto(await p.SetLabelAsync(new SetLabelRequest { Name = name, Label = label, Version = version, Actor = caller.Actor, Admin = caller.Admin }, c.RequestAborted));
        }));
        group.MapGet("/{name}/labels/history", (HttpContext c, IPromptService p, string name)
            => RunAsync(c, async _ => Proto(await p.LabelHistoryAsync(new LabelHistoryRequest { Name = name, Label = c.Request.Query["label"].ToString() }, c.RequestAborted))));
        group.MapPost("/{name}/experiments", (HttpContext c, IPromptService p, string name) => RunAsync(c, caller => StartExperimentAsync(c, p, name, caller)));
        group.MapGet("/{name}/experiments", (HttpContext c, IPromptService p, string name)
            => RunAsync(c, async _ => Proto(await p.ListExperimentsAsync(new ListExperimentsRequest { Prompt = name }, c.RequestAborted))));
        group.MapGet("/{name}/experiments/{id}", (HttpContext c, IPromptService p, ConfigMonitor config, string name, string id)
            => RunAsync(c, async _ => await ReportAsync(c, p, config, name, id)));
        group.MapPost("/{name}/experiments/{id}/stop", (HttpContext c, IPromptService p, string name, string id) => RunAsync(c, async caller =>
        {
            await ExperimentAsync(c, p, name, id);
            using var body = await BodyAsync(c, allowEmpty: true);
            var promote = body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("promote", out var arm) && arm.ValueKind == JsonValueKind.String ? arm.GetString()! : "";
            return Proto(await p.StopExperimentAsync(new StopExperimentRequest { Id = id, Promote = promote, Actor = caller.Actor, Admin = caller.Admin }, c.RequestAborted));
        }));
        return endpoints;
    }

    // Authenticates, runs the operation and writes its JSON, or the error in the OpenAI shape.
    private static async Task RunAsync(HttpContext context, Func<Caller, Task<string>> operation)
    {
        GatewayHeaders.AssignRequestId(context);
        try
        {
            var caller = Authorize(context);
            var json = await operation(caller);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(json, context.RequestAborted);
        }
        catch (GatewayException e)
        {
            await ErrorWriter.WriteAsync(context, e, ErrorShape.OpenAi);
        }
    }

    private static Caller Authorize(HttpContext context)
    {
        var config = context.RequestServices.GetRequiredService<ConfigMonitor>().Current;
        var denied = AdminAuth.Check(context, config);
        if (denied is null)
        {
            return new Caller("admin", Admin: true);
        }
        if (context.RequestServices.GetRequiredService<KeyAuthenticator>().Authenticate(GatewayHeaders.BearerKey(context.Request)) is { } principal)
        {
            return principal.Roles.Contains(config.Prompts.EditorRole)
                ? new Caller("key:" + principal.KeyName, Admin: false)
                : throw new GatewayException(ErrorKind.PermissionDenied, $"Key '{principal.KeyName}' lacks the role '{config.Prompts.EditorRole}' (prompts.editor_role) needed to manage prompts.", code: "missing_role");
        }
        throw denied;
    }

    private static async Task<string> CreateVersionAsync(HttpContext context, IPromptService prompts, string name, Caller caller)
    {
        using var body = await BodyAsync(context);
        if (body.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw GatewayException.BadRequest("Expected a JSON object: the version's definition, with an optional \"message\".", "body");
        }
        var message = JsonRead.String(body.RootElement, "message", "message") ?? "";
        var root = JsonObject.Create(body.RootElement)!;
        root.Remove("message");
        var response = await prompts.CreateVersionAsync(new CreateVersionRequest { Name = name, DefinitionJson = root.ToJsonString(), Message = message, Author = caller.Actor }, context.RequestAborted);
        context.Response.StatusCode = response.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        return Proto(response);
    }

    private static async Task<string> StartExperimentAsync(HttpContext context, IPromptService prompts, string name, Caller caller)
    {
        using var body = await BodyAsync(context);
        var root = JsonRead.RequireObject(body.RootElement, "body");
        string Text(string key) => JsonRead.String(root, key, key) ?? "";
        var request = new StartExperimentRequest { Id = Text("id"), Prompt = name, Label = Text("label"), Sticky = Text("sticky"), Actor = caller.Actor, Admin = caller.Admin };
        if (!root.TryGetProperty("arms", out var arms) || arms.ValueKind != JsonValueKind.Array)
        {
            throw GatewayException.BadRequest("'arms' is required: [{\"name\": \"a\", \"version\": 1, \"weight\": 50}, …].", "arms", "invalid_experiment");
        }
        var index = 0;
        foreach (var arm in arms.EnumerateArray())
        {
            var path = $"arms[{index++}]";
            if (arm.ValueKind != JsonValueKind.Object
                || !arm.TryGetProperty("name", out var armName) || armName.ValueKind != JsonValueKind.String
                || !arm.TryGetProperty("version", out var version) || version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var versionNumber))
            {
                throw GatewayException.BadRequest($"{path} must be {{\"name\": string, \"version\": integer, \"weight\": integer}}.", path, "invalid_experiment");
            }
            var weight = 1;
            if (arm.TryGetProperty("weight", out var w) && (w.ValueKind != JsonValueKind.Number || !w.TryGetInt32(out weight) || weight < 0))
            {
                throw GatewayException.BadRequest($"{path}.weight must be a whole number, 0 or more.", $"{path}.weight", "invalid_experiment");
            }
            request.Arms.Add(new Arm { Name = armName.GetString()!, Version = versionNumber, Weight = weight });
        }
        context.Response.StatusCode = StatusCodes.Status201Created;
        return Proto(await prompts.StartExperimentAsync(request, context.RequestAborted));
    }

    private static async Task<Experiment> ExperimentAsync(HttpContext context, IPromptService prompts, string name, string id)
        => (await prompts.ListExperimentsAsync(new ListExperimentsRequest { Prompt = name }, context.RequestAborted)).Experiments.FirstOrDefault(e => e.Id == id)
           ?? throw new GatewayException(ErrorKind.NotFound, $"Prompt '{name}' has no experiment '{id}'.", "id", "experiment_not_found");

    // The experiment with per-arm metrics from the trace store and the tests between arms.
    private static async Task<string> ReportAsync(HttpContext context, IPromptService prompts, ConfigMonitor config, string name, string id)
    {
        var experiment = await ExperimentAsync(context, prompts, name, id);
        var store = context.RequestServices.GetService<ITraceStore>();
        var arms = store is null ? [] : await store.ArmsAsync(id, context.RequestAborted);
        var report = ExperimentAnalysis.Analyze(experiment, arms, config.Current.Prompts.MinSamplesPerArm);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, ProviderHttp.WriterOptions))
        {
            w.WriteStartObject();
            w.WritePropertyName("experiment");
            w.WriteRawValue(Formatter.Format(experiment), skipInputValidation: true);
            w.WriteNumber("min_samples_per_arm", config.Current.Prompts.MinSamplesPerArm);
            w.WriteString("verdict", report.Verdict);
            w.WriteStartArray("arms");
            foreach (var arm in report.Arms)
            {
                WriteArm(w, arm, experiment.Arms.FirstOrDefault(a => a.Name == arm.Arm));
            }
            w.WriteEndArray();
            w.WriteStartArray("comparisons");
            foreach (var comparison in report.Comparisons)
            {
                WriteComparison(w, comparison);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteArm(Utf8JsonWriter w, ArmSummary arm, Arm? definition)
    {
        w.WriteStartObject();
        w.WriteString("arm", arm.Arm);
        w.WriteNumber("version", definition?.Version ?? 0);
        w.WriteNumber("weight", definition?.Weight ?? 0);
        w.WriteNumber("requests", arm.Requests);
        w.WriteNumber("errors", arm.Errors);
        w.WriteNumber("error_rate", arm.Requests == 0 ? 0 : Math.Round((double)arm.Errors / arm.Requests, 6));
        w.WriteNumber("latency_p50_ms", Math.Round(arm.LatencyP50Ms, 3));
        w.WriteNumber("latency_p95_ms", Math.Round(arm.LatencyP95Ms, 3));
        w.WriteNumber("tokens_per_request", Math.Round(arm.Tokens.Mean, 3));
        w.WriteNumber("cost_per_request_usd", Math.Round(arm.CostUsd.Mean, 9));
        w.WriteNumber("feedback_count", arm.Score.Count);
        w.WriteNumber("feedback_score", Math.Round(arm.Score.Mean, 6));
        w.WriteNumber("positive_feedback_rate", arm.Score.Count == 0 ? 0 : Math.Round((double)arm.PositiveFeedback / arm.Score.Count, 6));
        w.WriteEndObject();
    }

    private static void WriteComparison(Utf8JsonWriter w, ArmComparison comparison)
    {
        w.WriteStartObject();
        w.WriteString("a", comparison.A);
        w.WriteString("b", comparison.B);
        w.WriteBoolean("enough_samples", comparison.EnoughSamples);
        w.WriteString("decided_by", comparison.DecidedBy);
        w.WriteString("verdict", comparison.Verdict);
        w.WriteStartArray("metrics");
        foreach (var metric in comparison.Metrics)
        {
            var r = metric.Result;
            w.WriteStartObject();
            w.WriteString("metric", metric.Metric);
            w.WriteString("test", metric.Test);
            w.WriteString("better_when", metric.LowerIsBetter ? "lower" : "higher");
            w.WriteNumber("difference", Round(r.Difference));
            w.WriteNumber("statistic", Round(r.Statistic));
            w.WriteNumber("p_value", Round(r.PValue));
            w.WriteNumber("ci95_low", Round(r.CiLow));
            w.WriteNumber("ci95_high", Round(r.CiHigh));
            if (double.IsFinite(r.DegreesOfFreedom))
            {
                w.WriteNumber("degrees_of_freedom", Round(r.DegreesOfFreedom));
            }
            w.WriteBoolean("significant", metric.Significant);
            w.WriteString("better", metric.Better);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static double Round(double value) => double.IsFinite(value) ? Math.Round(value, 9) : 0;

    private static string Proto(IMessage message) => Formatter.Format(message);

    private static int QueryInt(HttpContext context, string name)
        => int.TryParse(context.Request.Query[name].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw GatewayException.BadRequest($"'{name}' must be a version number, e.g. ?from=1&to=2.", name, "invalid_parameter");

    private static async Task<JsonDocument> BodyAsync(HttpContext context, bool allowEmpty = false)
    {
        var request = context.Request;
        if (allowEmpty && (request.ContentLength == 0 || (request.ContentLength is null && !request.Headers.ContainsKey("Transfer-Encoding"))))
        {
            return JsonDocument.Parse("{}");
        }
        return await RequestBody.ReadJsonAsync(context, context.RequestServices.GetRequiredService<ConfigMonitor>().Current);
    }
}
