using System.Text.Json;
using Gateway.Common.Errors;
using Gateway.Contracts.Inference.V1;
using Gateway.Contracts.Prompts.V1;
using HandlebarsDotNet;
using HandlebarsDotNet.IO;

namespace Gateway.Prompts.Model;

// One version compiled once: its message templates as Handlebars (Mustache syntax) delegates, its
// parameters already in contract form. Rendering is then a dictionary bind and a delegate call per message.
// Output is never HTML-escaped (prompts are not HTML: quotes, <, & and JSON stay as written), and a
// reference to an undeclared variable is refused when the version is created.
public sealed class PromptTemplate
{
    private static readonly IHandlebars Engine = CreateEngine();

    private readonly (Role Role, HandlebarsTemplate<object, object> Render)[] _messages;
    private readonly Dictionary<string, object?> _defaults;
    private readonly ResolvedPrompt _parameters;

    public PromptTemplate(string name, int version, PromptDefinition definition)
    {
        Name = name;
        Version = version;
        Definition = definition;
        var sources = definition.Type == "chat" ? definition.Messages : [new PromptMessage("user", definition.Text ?? "")];
        _messages = new (Role, HandlebarsTemplate<object, object>)[sources.Count];
        for (var i = 0; i < sources.Count; i++)
        {
            try
            {
                _messages[i] = (RoleOf(sources[i].Role), Engine.Compile(sources[i].Content));
            }
            catch (Exception e) when (IsTemplateError(e))
            {
                throw PromptDefinition.Bad($"Template of message {i} does not compile: {e.Message}", definition.Type == "chat" ? $"messages[{i}].content" : "text");
            }
        }
        _defaults = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var variable in definition.Variables)
        {
            // Every declared variable is bound (null when absent and optional), so only undeclared ones are unresolved.
            _defaults[variable.Name] = variable.Default is null ? null : PromptValues.Value(JsonDocument.Parse(variable.Default.ToJsonString()).RootElement.Clone(), variable.Type);
        }
        _parameters = new ResolvedPrompt { Name = name, Version = version, Model = definition.Model ?? "" };
        if (definition.Temperature is { } temperature)
        {
            _parameters.Temperature = temperature;
        }
        if (definition.MaxTokens is { } maxTokens)
        {
            _parameters.MaxTokens = maxTokens;
        }
        _parameters.ResponseFormat = PromptParameters.ResponseFormat(definition.ResponseFormat);
        _parameters.Tools.AddRange(PromptParameters.Tools(definition.Tools));
    }

    public string Name { get; }
    public int Version { get; }
    public PromptDefinition Definition { get; }

    // Compiles and renders once with every declared variable set, so a template that names an undeclared
    // variable (or is malformed) is refused at creation.
    public static PromptTemplate Validate(string name, PromptDefinition definition)
    {
        var template = new PromptTemplate(name, 0, definition);
        var sample = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var variable in definition.Variables)
        {
            sample[variable.Name] = variable.Type switch { "boolean" => true, "number" => "1", "json" => "{}", _ => "x" };
        }
        for (var i = 0; i < template._messages.Length; i++)
        {
            try
            {
                template._messages[i].Render(sample, null!);
            }
            catch (Exception e) when (IsTemplateError(e))
            {
                throw PromptDefinition.Bad($"Message {i} uses a variable that is not declared under 'variables' ({e.Message}); declare it, or write a literal {{{{ as \\{{{{.", definition.Type == "chat" ? $"messages[{i}].content" : "text");
            }
        }
        return template;
    }

    public ResolvedPrompt Render(string? variablesJson, string label)
    {
        Dictionary<string, object?> variables;
        try
        {
            variables = PromptValues.Bind(Definition, variablesJson, _defaults);
        }
        catch (JsonException)
        {
            throw GatewayException.BadRequest("'prompt.variables' must be a JSON object.", "prompt.variables", "invalid_prompt_variable");
        }
        var resolved = _parameters.Clone();
        resolved.Label = label;
        foreach (var (role, render) in _messages)
        {
            string text;
            try
            {
                text = render(variables, null!);
            }
            catch (Exception e) when (IsTemplateError(e))
            {
                throw GatewayException.BadRequest($"Prompt '{Name}' version {Version} could not be rendered: {e.Message}", "prompt.variables", "prompt_render_failed");
            }
            resolved.Messages.Add(new Message { Role = role, Content = { new ContentPart { Text = text } } });
        }
        return resolved;
    }

    private static IHandlebars CreateEngine()
    {
        var configuration = new HandlebarsConfiguration { NoEscape = true, ThrowOnUnresolvedBindingExpression = true };
        configuration.FormatterProviders.Add(new JsonBooleanFormatter());
        return Handlebars.Create(configuration);
    }

    // Booleans print as JSON writes them (true/false), not as .NET does (True/False).
    private sealed class JsonBooleanFormatter : IFormatter, IFormatterProvider
    {
        public void Format<T>(T value, in EncodedTextWriter writer) => writer.Write(value is true ? "true" : "false", false);

        public bool TryCreateFormatter(Type type, out IFormatter formatter)
        {
            formatter = this;
            return type == typeof(bool);
        }
    }

    // What the engine throws for a bad template or an unresolved name (it has no single base type for them).
    private static bool IsTemplateError(Exception e)
        => e is HandlebarsException or HandlebarsDotNet.Compiler.HandlebarsUndefinedBindingException or ArgumentException or InvalidOperationException or IndexOutOfRangeException;

    private static Role RoleOf(string role) => role switch
    {
        "system" => Role.System,
        "developer" => Role.Developer,
        "assistant" => Role.Assistant,
        _ => Role.User,
    };
}
