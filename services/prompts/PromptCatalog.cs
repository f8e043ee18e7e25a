using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Events;
using Gateway.Contracts.Prompts.V1;
using Gateway.Prompts.Experiments;
using Gateway.Prompts.Model;
using Gateway.Prompts.Store;

namespace Gateway.Prompts;

// The prompt service: resolution on the request path from an in-memory cache, and the admin operations on
// the store. The cache holds, per prompt, its labels, latest version and running experiments (dropped on any
// change: by this process at once, by others through the bus event and the store's change counter), and
// compiled templates per version (never dropped: versions are immutable).
public sealed class PromptCatalog(PromptStore store, ConfigMonitor config, IEventBus events, TimeProvider time, ILogger<PromptCatalog> logger) : IPromptService
{
    private const string Latest = "latest";
    private const string DefaultLabel = "production";

    private sealed record Entry(int Latest, IReadOnlyDictionary<string, int> Labels, IReadOnlyList<Experiment> Experiments);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Name, int Version), PromptTemplate> _templates = new();
    private long _generation;

    // ---- request path ---------------------------------------------------------------------------------

    public Task<ResolvedPrompt> ResolveAsync(ResolveRequest request, CancellationToken cancellationToken)
    {
        var reference = request.Reference ?? throw GatewayException.BadRequest("'prompt.id' is required.", "prompt.id");
        if (reference.HasVersion && reference.Label.Length > 0)
        {
            throw GatewayException.BadRequest("Give 'prompt.version' or 'prompt.label', not both.", "prompt.label");
        }
        // Cached: no await, no allocation beyond the rendered messages.
        if (_entries.TryGetValue(reference.Id, out var entry) && Pick(reference, entry, request) is var (version, label, experiment, arm)
            && _templates.TryGetValue((reference.Id, version), out var template))
        {
            return Task.FromResult(Finish(template.Render(reference.VariablesJson, label), experiment, arm));
        }
        return ResolveSlowAsync(request, cancellationToken);
    }

    private async Task<ResolvedPrompt> ResolveSlowAsync(ResolveRequest request, CancellationToken cancellationToken)
    {
        var reference = request.Reference;
        var entry = await EntryAsync(reference.Id, cancellationToken);
        var (version, label, experiment, arm) = Pick(reference, entry, request);
        var template = await TemplateAsync(reference.Id, version, cancellationToken);
        return Finish(template.Render(reference.VariablesJson, label), experiment, arm);
    }

    private static ResolvedPrompt Finish(ResolvedPrompt resolved, string experiment, string arm)
    {
        resolved.Experiment = experiment;
        resolved.Arm = arm;
        return resolved;
    }

    // Version by number; else the label's version (an experiment running on that label picks the caller's
    // arm); no label means `production` when set, else the latest version.
    private static (int Version, string Label, string Experiment, string Arm) Pick(Contracts.Inference.V1.PromptReference reference, Entry entry, ResolveRequest request)
    {
        if (reference.HasVersion)
        {
            if (reference.Version < 1 || reference.Version > entry.Latest)
            {
                throw new GatewayException(ErrorKind.NotFound, $"Prompt '{reference.Id}' has no version {reference.Version} (latest is {entry.Latest}).", "prompt.version", "prompt_version_not_found");
            }
            return (reference.Version, "", "", "");
        }
        var label = reference.Label.Length > 0 ? reference.Label : entry.Labels.ContainsKey(DefaultLabel) ? DefaultLabel : Latest;
        foreach (var experiment in entry.Experiments)
        {
            if (experiment.Label == label)
            {
                var arm = ArmAssigner.Assign(experiment, ArmAssigner.Subject(experiment, request));
                return (arm.Version, label, experiment.Id, arm.Name);
            }
        }
        if (label == Latest)
        {
            return (entry.Latest, Latest, "", "");
        }
        return entry.Labels.TryGetValue(label, out var version)
            ? (version, label, "", "")
            : throw new GatewayException(ErrorKind.NotFound, $"Prompt '{reference.Id}' has no label '{label}'; labels: {string.Join(", ", entry.Labels.Keys.Append(Latest).Order(StringComparer.Ordinal))}.", "prompt.label", "prompt_label_not_found");
    }

    private async Task<Entry> EntryAsync(string name, CancellationToken cancellationToken)
    {
        if (_entries.TryGetValue(name, out var cached))
        {
            return cached;
        }
        var generation = Interlocked.Read(ref _generation);
        var state = await store.StateAsync(name, cancellationToken)
            ?? throw new GatewayException(ErrorKind.NotFound, $"Prompt '{name}' was not found.", "prompt.id", "prompt_not_found");
        var entry = new Entry(state.Latest, state.Labels, state.Experiments);
        // Cache only if nothing changed while we read: otherwise the next request reads again.
        if (Interlocked.Read(ref _generation) == generation)
        {
            _entries[name] = entry;
        }
        return entry;
    }

    private async Task<PromptTemplate> TemplateAsync(string name, int version, CancellationToken cancellationToken)
    {
        if (_templates.TryGetValue((name, version), out var template))
        {
            return template;
        }
        var stored = await store.VersionAsync(name, version, cancellationToken)
            ?? throw new GatewayException(ErrorKind.NotFound, $"Prompt '{name}' has no version {version}.", "prompt.version", "prompt_version_not_found");
        template = new PromptTemplate(name, version, PromptDefinition.Parse(stored.Definition));
        return _templates.GetOrAdd((name, version), template);
    }

    // Drops cached labels and experiments (never templates); `name` null = every prompt.
    public void Invalidate(string? name)
    {
        Interlocked.Increment(ref _generation);
        if (name is null)
        {
            _entries.Clear();
        }
        else
        {
            _entries.TryRemove(name, out _);
        }
    }

    private async Task ChangedAsync(string name, string label, int version, string reason)
    {
        Invalidate(name);
        try
        {
            await events.PublishAsync(Topics.PromptLabels, new PromptChanged { Name = name, Label = label, Version = version, Reason = reason }, CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Other replicas still see the change through the store's change counter within refresh_milliseconds.
            PromptsLog.PublishFailed(logger, e, name);
        }
    }

    // ---- versions ---------------------------------------------------------------------------------------

    public async Task<CreateVersionResponse> CreateVersionAsync(CreateVersionRequest request, CancellationToken cancellationToken)
    {
        RequireName(request.Name, "name");
        var definition = PromptDefinition.Parse(request.DefinitionJson);
        PromptTemplate.Validate(request.Name, definition);
        var (stored, created) = await store.AddVersionAsync(request.Name, definition.ContentHash(), definition.ToJson(),
            request.Message, request.Author.Length > 0 ? request.Author : "unknown", cancellationToken);
        if (created)
        {
            PromptsLog.VersionCreated(logger, request.Name, stored.Version, stored.Author);
            await ChangedAsync(request.Name, Latest, stored.Version, "version");
        }
        var labels = await store.LabelsAsync(request.Name, cancellationToken);
        return new CreateVersionResponse { Version = ToContract(stored, labels), Created = created };
    }

    public async Task<PromptList> ListPromptsAsync(CancellationToken cancellationToken)
    {
        var list = new PromptList();
        foreach (var name in await store.NamesAsync(cancellationToken))
        {
            var versions = await store.VersionsAsync(name, cancellationToken);
            var summary = new PromptSummary { Name = name, LatestVersion = versions[^1].Version, UpdatedUnixMs = versions[^1].CreatedMs };
            foreach (var (label, version) in await store.LabelsAsync(name, cancellationToken))
            {
                summary.Labels[label] = version;
            }
            list.Prompts.Add(summary);
        }
        return list;
    }

    public async Task<VersionList> ListVersionsAsync(ListVersionsRequest request, CancellationToken cancellationToken)
    {
        var versions = await store.VersionsAsync(request.Name, cancellationToken);
        if (versions.Count == 0)
        {
            throw NotFound(request.Name);
        }
        var labels = await store.LabelsAsync(request.Name, cancellationToken);
        var list = new VersionList();
        list.Versions.AddRange(versions.Select(v => ToContract(v, labels)));
        foreach (var (label, version) in labels)
        {
            list.Labels[label] = version;
        }
        return list;
    }

    public async Task<PromptVersion> GetVersionAsync(GetVersionRequest request, CancellationToken cancellationToken)
    {
        var version = request.Version;
        if (version == 0)
        {
            var state = await store.StateAsync(request.Name, cancellationToken) ?? throw NotFound(request.Name);
            var label = request.Label.Length > 0 ? request.Label : Latest;
            version = label == Latest ? state.Latest : state.Labels.TryGetValue(label, out var v) ? v
                : throw new GatewayException(ErrorKind.NotFound, $"Prompt '{request.Name}' has no label '{label}'.", "label", "prompt_label_not_found");
        }
        var stored = await StoredAsync(request.Name, version, "version", cancellationToken);
        return ToContract(stored, await store.LabelsAsync(request.Name, cancellationToken));
    }

    public async Task<DiffResponse> DiffAsync(DiffRequest request, CancellationToken cancellationToken)
    {
        var from = await StoredAsync(request.Name, request.FromVersion, "from", cancellationToken);
        var to = await StoredAsync(request.Name, request.ToVersion, "to", cancellationToken);
        var diff = new DiffResponse { Name = request.Name, FromVersion = from.Version, ToVersion = to.Version };
        diff.Lines.AddRange(LineDiff.Compute(Pretty(from.Definition), Pretty(to.Definition)));
        return diff;
    }

    private static string[] Pretty(string json)
        => JsonNode.Parse(json)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }).Split('\n');

    // ---- labels -----------------------------------------------------------------------------------------

    public async Task<LabelChange> SetLabelAsync(SetLabelRequest request, CancellationToken cancellationToken)
    {
        RequireName(request.Label, "label");
        if (request.Label == Latest)
        {
            throw GatewayException.BadRequest("'latest' is implicit (always the newest version) and cannot be moved.", "label", "invalid_label");
        }
        RequireMayMove(request.Label, request.Admin);
        await StoredAsync(request.Name, request.Version, "version", cancellationToken);
        var change = await store.SetLabelAsync(request.Name, request.Label, request.Version, request.Actor.Length > 0 ? request.Actor : "unknown", cancellationToken);
        PromptsLog.LabelMoved(logger, request.Name, request.Label, change.FromVersion, change.ToVersion, change.Actor);
        await ChangedAsync(request.Name, request.Label, request.Version, "label");
        return change;
    }

    public async Task<LabelHistoryResponse> LabelHistoryAsync(LabelHistoryRequest request, CancellationToken cancellationToken)
    {
        if (await store.StateAsync(request.Name, cancellationToken) is null)
        {
            throw NotFound(request.Name);
        }
        var response = new LabelHistoryResponse();
        response.Changes.AddRange(await store.LabelHistoryAsync(request.Name, request.Label, cancellationToken));
        return response;
    }

    private void RequireMayMove(string label, bool admin)
    {
        if (!admin && config.Current.Prompts.ProtectedLabels.Contains(label))
        {
            throw new GatewayException(ErrorKind.PermissionDenied, $"Label '{label}' is protected (prompts.protected_labels): only the admin credential may move it.", "label", "protected_label");
        }
    }

    // ---- experiments ------------------------------------------------------------------------------------

    public async Task<Experiment> StartExperimentAsync(StartExperimentRequest request, CancellationToken cancellationToken)
    {
        RequireName(request.Id, "id");
        var label = request.Label.Length > 0 ? request.Label : DefaultLabel;
        RequireName(label, "label");
        RequireMayMove(label, request.Admin);
        var sticky = request.Sticky.Length > 0 ? request.Sticky : "user";
        if (sticky is not ("user" or "session" or "key"))
        {
            throw GatewayException.BadRequest("'sticky' must be user, session or key.", "sticky", "invalid_experiment");
        }
        if (request.Arms.Count < 2)
        {
            throw GatewayException.BadRequest("An experiment needs at least two arms [{name, version, weight}].", "arms", "invalid_experiment");
        }
        var state = await store.StateAsync(request.Prompt, cancellationToken) ?? throw NotFound(request.Prompt, "prompt");
        for (var i = 0; i < request.Arms.Count; i++)
        {
            var arm = request.Arms[i];
            RequireName(arm.Name, $"arms[{i}].name");
            if (request.Arms.Take(i).Any(a => a.Name == arm.Name))
            {
                throw GatewayException.BadRequest($"Arm name '{arm.Name}' is used twice.", $"arms[{i}].name", "invalid_experiment");
            }
            if (arm.Version < 1 || arm.Version > state.Latest)
            {
                throw GatewayException.BadRequest($"arms[{i}].version: prompt '{request.Prompt}' has versions 1 to {state.Latest}.", $"arms[{i}].version", "invalid_experiment");
            }
            if (arm.Weight is < 0 or > 1_000_000)
            {
                throw GatewayException.BadRequest($"arms[{i}].weight must be between 0 and 1000000.", $"arms[{i}].weight", "invalid_experiment");
            }
        }
        if (request.Arms.Sum(a => (long)a.Weight) == 0)
        {
            throw GatewayException.BadRequest("At least one arm needs a weight above 0.", "arms", "invalid_experiment");
        }
        if (state.Experiments.FirstOrDefault(e => e.Label == label) is { } running)
        {
            throw GatewayException.BadRequest($"Experiment '{running.Id}' already splits label '{label}' of '{request.Prompt}'; stop it first.", "label", "experiment_conflict");
        }
        var experiment = new Experiment
        {
            Id = request.Id,
            Prompt = request.Prompt,
            Label = label,
            Sticky = sticky,
            Status = "running",
            StartedUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            Actor = request.Actor,
        };
        experiment.Arms.AddRange(request.Arms);
        if (!await store.SaveExperimentAsync(experiment, create: true, cancellationToken))
        {
            throw GatewayException.BadRequest($"An experiment named '{request.Id}' exists already; experiment ids are never reused.", "id", "experiment_conflict");
        }
        await ChangedAsync(request.Prompt, label, 0, "experiment");
        return experiment;
    }

    public async Task<ExperimentList> ListExperimentsAsync(ListExperimentsRequest request, CancellationToken cancellationToken)
    {
        var list = new ExperimentList();
        list.Experiments.AddRange(await store.ExperimentsAsync(request.Prompt, cancellationToken));
        return list;
    }

    // Stops the split; with `promote`, moves the experiment's label to that arm's version (the rollout).
    public async Task<Experiment> StopExperimentAsync(StopExperimentRequest request, CancellationToken cancellationToken)
    {
        var experiment = (await store.ExperimentsAsync(null, cancellationToken)).FirstOrDefault(e => e.Id == request.Id)
            ?? throw new GatewayException(ErrorKind.NotFound, $"Experiment '{request.Id}' was not found.", "id", "experiment_not_found");
        if (experiment.Status != "running")
        {
            throw GatewayException.BadRequest($"Experiment '{request.Id}' is already stopped.", "id", "experiment_stopped");
        }
        Arm? winner = null;
        if (request.Promote.Length > 0)
        {
            winner = experiment.Arms.FirstOrDefault(a => a.Name == request.Promote)
                ?? throw GatewayException.BadRequest($"Experiment '{request.Id}' has no arm '{request.Promote}'; arms: {string.Join(", ", experiment.Arms.Select(a => a.Name))}.", "promote", "invalid_experiment");
            RequireMayMove(experiment.Label, request.Admin);
        }
        experiment.Status = "stopped";
        experiment.StoppedUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        experiment.Winner = winner?.Name ?? "";
        await store.SaveExperimentAsync(experiment, create: false, cancellationToken);
        if (winner is not null)
        {
            await store.SetLabelAsync(experiment.Prompt, experiment.Label, winner.Version, request.Actor.Length > 0 ? request.Actor : "unknown", cancellationToken);
        }
        await ChangedAsync(experiment.Prompt, experiment.Label, winner?.Version ?? 0, "experiment");
        return experiment;
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    private async Task<PromptStore.StoredVersion> StoredAsync(string name, int version, string param, CancellationToken cancellationToken)
        => await store.VersionAsync(name, version, cancellationToken)
            ?? (await store.StateAsync(name, cancellationToken) is null
                ? throw NotFound(name)
                : throw new GatewayException(ErrorKind.NotFound, $"Prompt '{name}' has no version {version}.", param, "prompt_version_not_found"));

    private static PromptVersion ToContract(PromptStore.StoredVersion stored, IReadOnlyDictionary<string, int> labels)
    {
        var version = new PromptVersion
        {
            Name = stored.Name,
            Version = stored.Version,
            ContentHash = stored.ContentHash,
            Message = stored.Message,
            Author = stored.Author,
            CreatedUnixMs = stored.CreatedMs,
            DefinitionJson = stored.Definition,
        };
        version.Labels.AddRange(labels.Where(l => l.Value == stored.Version).Select(l => l.Key).Order(StringComparer.Ordinal));
        return version;
    }

    private static void RequireName(string value, string param)
    {
        if (!ConfigNames.IsName(value))
        {
            throw GatewayException.BadRequest($"'{param}' must use {ConfigNames.NameRule}.", param, "invalid_name");
        }
    }

    private static GatewayException NotFound(string name, string param = "name")
        => new(ErrorKind.NotFound, $"Prompt '{name}' was not found.", param, "prompt_not_found");
}
