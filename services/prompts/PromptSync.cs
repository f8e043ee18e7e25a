using System.Globalization;
using System.Text.Json.Nodes;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Prompts.V1;
using Gateway.Prompts.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gateway.Prompts;

public sealed record SyncResult(int Created, int Unchanged, int LabelsMoved, IReadOnlyList<string> Lines);

// Prompts as code: each *.yaml / *.yml file in a folder is one prompt (name = `name:` or the file name), its
// content the definition (docs/prompts.md). New content becomes a new version; content already stored (by
// hash) is left alone; `labels:` in the file are pointed at the file's version. Running it twice changes
// nothing the second time.
public static class PromptSync
{
    public static async Task<SyncResult> SyncAsync(IPromptService prompts, string directory, string author, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory))
        {
            throw GatewayException.BadRequest($"The prompt folder '{directory}' does not exist.", "sync_dir");
        }
        int created = 0, unchanged = 0, moved = 0;
        var lines = new List<string>();
        var files = Directory.EnumerateFiles(directory, "*.yaml").Concat(Directory.EnumerateFiles(directory, "*.yml")).Order(StringComparer.Ordinal).ToList();
        foreach (var file in files)
        {
            var (name, message, labels, definition) = Read(file);
            var response = await prompts.CreateVersionAsync(new CreateVersionRequest
            {
                Name = name,
                DefinitionJson = definition.ToJsonString(),
                Message = message ?? $"sync {Path.GetFileName(file)}",
                Author = author,
            }, cancellationToken);
            var version = response.Version.Version;
            if (response.Created)
            {
                created++;
            }
            else
            {
                unchanged++;
            }
            lines.Add($"{name}: version {version} {(response.Created ? "created" : "unchanged")}");
            foreach (var label in labels)
            {
                if (!response.Version.Labels.Contains(label))
                {
                    var change = await prompts.SetLabelAsync(new SetLabelRequest { Name = name, Label = label, Version = version, Actor = author, Admin = true }, cancellationToken);
                    moved++;
                    lines.Add($"{name}: label {label} {change.FromVersion} -> {change.ToVersion}");
                }
            }
        }
        return new SyncResult(created, unchanged, moved, lines);
    }

    // One prompt file: sync fields (name, message, labels) apart from the definition.
    public static (string Name, string? Message, List<string> Labels, JsonObject Definition) Read(string file)
    {
        JsonNode? root;
        try
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(file))
            {
                stream.Load(reader);
            }
            root = stream.Documents.Count == 0 ? null : ToJson(stream.Documents[0].RootNode);
        }
        catch (YamlException e)
        {
            throw GatewayException.BadRequest($"{Path.GetFileName(file)}: line {e.Start.Line}: {e.Message}", "file");
        }
        if (root is not JsonObject document)
        {
            throw GatewayException.BadRequest($"{Path.GetFileName(file)}: a prompt file is a mapping (name, messages or text, variables, …).", "file");
        }
        var name = Take(document, "name") ?? Path.GetFileNameWithoutExtension(file);
        if (!ConfigNames.IsName(name))
        {
            throw GatewayException.BadRequest($"{Path.GetFileName(file)}: prompt name '{name}' must use {ConfigNames.NameRule}.", "name");
        }
        var message = Take(document, "message");
        var labels = new List<string>();
        if (document["labels"] is { } labelNode)
        {
            document.Remove("labels");
            foreach (var item in labelNode as JsonArray ?? throw GatewayException.BadRequest($"{Path.GetFileName(file)}: labels must be a list, e.g. [staging].", "labels"))
            {
                labels.Add(item?.GetValueKind() == System.Text.Json.JsonValueKind.String ? item.GetValue<string>() : throw GatewayException.BadRequest($"{Path.GetFileName(file)}: labels must be names.", "labels"));
            }
        }
        try
        {
            PromptDefinition.Parse(document);
        }
        catch (GatewayException e)
        {
            throw GatewayException.BadRequest($"{Path.GetFileName(file)}: {e.Message}", e.Param ?? "file", "invalid_prompt");
        }
        return (name, message, labels, document);
    }

    private static string? Take(JsonObject document, string key)
    {
        if (document[key] is not { } node)
        {
            return null;
        }
        document.Remove(key);
        return node.GetValueKind() == System.Text.Json.JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();
    }

    // YAML onto JSON: plain scalars that read as numbers, booleans or null become those; quoted ones stay text.
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value ?? "", ToJson(p.Value)))),
        YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(ToJson)]),
        YamlScalarNode { Style: ScalarStyle.Plain } scalar => Plain(scalar.Value ?? ""),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value ?? ""),
        _ => null,
    };

    private static JsonNode? Plain(string text)
    {
        if (text is "" or "~" or "null")
        {
            return null;
        }
        if (text is "true" or "false")
        {
            return JsonValue.Create(text == "true");
        }
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
        {
            return JsonValue.Create(number);
        }
        return JsonValue.Create(text);
    }
}
