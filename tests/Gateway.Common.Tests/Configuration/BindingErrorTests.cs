using Gateway.Common.Configuration;
using static Gateway.Common.Tests.Configuration.ConfigAssert;

namespace Gateway.Common.Tests.Configuration;

// Errors found while reading the YAML onto the config records: syntax, shape, types, keys, variables.
public sealed class BindingErrorTests
{
    [Fact]
    public void Parse_UnknownKeyCloseToAKnownOne_SuggestsTheKnownKey()
    {
        var error = Single("""
            providers:
              openai: { kind: openai, base_url: https://api.openai.com/v1, api_kye: sk-1 }
            """, "providers.openai.api_kye", "unknown key", "did you mean 'api_key'?");

        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Parse_UnknownTopLevelSection_SuggestsTheSection()
        => Single("provider:\n  openai: { kind: openai }\n", "provider", "did you mean 'providers'?");

    [Fact]
    public void Parse_UnknownKeyUnlikeAnyKnownOne_ListsTheAllowedKeys()
        => Single("server:\n  listen_everywhere: true\n", "server.listen_everywhere",
            "unknown key; remove it, or use one of: admin_key, grpc, http, limits, max_json_depth, max_request_body_bytes, tls");

    [Theory]
    [InlineData("{ provider: openai, model: gpt-4o, weight: heavy }", "models.gpt-4o.targets[0].weight", "expected a whole number (e.g. 10), found 'heavy'")]
    [InlineData("{ provider: openai, model: gpt-4o, weight: 1.5 }", "models.gpt-4o.targets[0].weight", "expected a whole number (e.g. 10), found '1.5'")]
    [InlineData("{ provider: openai, model: gpt-4o, weight: [1] }", "models.gpt-4o.targets[0].weight", "expected a whole number (e.g. 10), found a list; write a single value")]
    [InlineData("{ provider: openai, model: { name: gpt-4o } }", "models.gpt-4o.targets[0].model", "expected a text value, found a mapping; write a single value")]
    public void Parse_WrongScalarType_NamesTheExpectedTypeAndWhatWasFound(string target, string path, string message)
        => Single($"{Provider}\nmodels:\n  gpt-4o:\n    targets: [{target}]\n", path, message);

    [Fact]
    public void Parse_PriceNotANumber_IsRejected()
        => Single(ProviderAndModel + "\n    price: { input: $2.50, output: 10 }\n", "models.gpt-4o.price.input", "expected a number (e.g. 2.5), found '$2.50'");

    [Theory]
    [InlineData("30s", "expected a number (e.g. 2.5), found '30s'")]
    [InlineData("NaN", "expected a number (e.g. 2.5), found 'NaN'")]
    [InlineData("Infinity", "expected a number (e.g. 2.5), found 'Infinity'")]
    public void Parse_TimeoutNotANumber_IsRejected(string timeout, string message)
        => Single($"providers:\n  openai: {{ kind: openai, base_url: https://api.openai.com/v1, timeout_seconds: {timeout} }}\n",
            "providers.openai.timeout_seconds", message);

    [Fact]
    public void Parse_ScalarWhereListExpected_AsksForAList()
        => Single(ProviderAndModel + "\n    fallbacks: gpt-4o-mini\n", "models.gpt-4o.fallbacks",
            "expected a list, found 'gpt-4o-mini'; write [a, b] or one `- item` per line");

    [Fact]
    public void Parse_MappingWhereListExpected_AsksForAList()
        => Single(Provider + "\nmodels:\n  gpt-4o:\n    targets: { provider: openai, model: gpt-4o }\n", "models.gpt-4o.targets",
            "expected a list, found a mapping; write [a, b]");

    [Fact]
    public void Parse_ListWhereMappingExpected_AsksForKeyValuePairs()
        => Single("server: [127.0.0.1:8080]\n", "server", "expected a mapping, found a list; write `key: value` lines");

    [Fact]
    public void Parse_ScalarWhereNamedEntriesExpected_AsksForOneEntryPerName()
        => Single("providers: openai\n", "providers", "expected a mapping of names to entries, found 'openai'; write one `NAME: ...` per entry");

    [Fact]
    public void Parse_ListItemThatIsNotAMapping_ReportsItsIndex()
        => Single(Provider + "\nmodels:\n  gpt-4o:\n    targets: [openai]\n", "models.gpt-4o.targets[0]", "expected a mapping, found 'openai'");

    [Fact]
    public void Parse_EmptyListItem_ReportsItsIndex()
        => Single(ProviderAndModel + "\n    fallbacks: [gpt-4o-mini, ~]\n  gpt-4o-mini:\n    targets: [{ provider: openai, model: gpt-4o-mini }]\n",
            "models.gpt-4o.fallbacks[1]", "empty list item; give it a value or remove it");

    [Fact]
    public void Parse_NamedEntryWithoutValue_AsksToFillItIn()
        => Single(ProviderAndModel + "\n  gpt-4o-mini:\n", "models.gpt-4o-mini", "has no value; fill it in or remove the entry");

    [Fact]
    public void Parse_DuplicateNameInAMapping_NamesThePathAndBothLines()
    {
        var error = Single("""
            providers:
              openai: { kind: openai, base_url: https://api.openai.com/v1 }
              openai: { kind: openai, base_url: https://example.com/v1 }
            """, "providers.openai", "defined twice (first on line 2); keep one");

        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void Parse_DuplicateKeyInARecord_IsRejected()
        => Single("providers:\n  openai:\n    kind: openai\n    base_url: https://api.openai.com/v1\n    kind: anthropic\n",
            "providers.openai.kind", "defined twice (first on line 3)");

    [Fact]
    public void Parse_DuplicateTopLevelSection_IsRejected()
        => Single(Provider + "\nserver:\n  http: 127.0.0.1:8080\nserver:\n  grpc: 127.0.0.1:8081\n", "server", "defined twice (first on line 3)");

    [Fact]
    public void Parse_YamlSyntaxError_GivesLineAndColumn()
    {
        var error = Assert.Single(ErrorsOf("""
            providers:
              openai: { kind: openai, base_url: https://api.openai.com/v1 }
            models:
              gpt-4o:
                targets: [{ provider: openai, model: gpt-4o }
            keys: []
            """));

        Assert.Equal("", error.Path);
        Assert.StartsWith("not valid YAML at line ", error.Message, StringComparison.Ordinal);
        Assert.Contains(", column ", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("check the indentation and quoting there", error.Message, StringComparison.Ordinal);
        Assert.Equal(5, error.Line);
        Assert.Contains("check that every [ and { is closed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadIndentation_GivesLineAndColumn()
    {
        var error = Assert.Single(ErrorsOf("server:\n  http: 127.0.0.1:8080\n grpc: 127.0.0.1:8081\n"));

        Assert.Equal("not valid YAML at line 3, column 2: While parsing a block mapping, did not find expected key; check the indentation and quoting there", error.Message);
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void Parse_TabIndentation_NamesTheLineAndSaysToUseSpaces()
    {
        var error = Assert.Single(ErrorsOf("server:\n  http: 127.0.0.1:8080\n\tgrpc: 127.0.0.1:8081\n"));

        Assert.Equal("not valid YAML at line 3: the line is indented with a tab; YAML indents with spaces only", error.Message);
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void Parse_UnquotedVariableAsAWholeValueInsideBraces_IsAccepted()
    {
        var config = ConfigLoader.Parse("providers:\n  openai: { kind: openai, api_key: ${OPENAI_API_KEY}, base_url: https://api.openai.com/v1, headers: { X-Org: ${ORG:-acme} } }\n",
            name => name == "OPENAI_API_KEY" ? "sk-proj-0123" : null);

        Assert.Equal("sk-proj-0123", config.Providers["openai"].ApiKey);
        Assert.Equal("acme", config.Providers["openai"].Headers["x-org"]);
    }

    [Fact]
    public void Parse_UnquotedVariableInsideATextInsideBraces_SaysToQuoteIt()
    {
        var error = Assert.Single(ErrorsOf("providers:\n  vllm: { kind: openai, base_url: http://${VLLM_HOST}:8000/v1 }\n"));

        Assert.Equal(2, error.Line);
        Assert.StartsWith("not valid YAML at line 2, column ", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("inside { } or [ ], put a value that uses ${NAME} in quotes, e.g. api_key: \"${OPENAI_API_KEY}\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnquotedVariableAsABlockValue_IsFine()
        => Assert.Equal("admin-0123456789abcdef", ConfigLoader.Parse(Provider + "\nserver:\n  admin_key: ${ADMIN}-0123456789abcdef\n", _ => "admin").Server.AdminKey);

    [Fact]
    public void Parse_SecondDocument_AsksToRemoveIt()
    {
        var error = Assert.Single(ErrorsOf(Provider + "\n---\nserver: {}\n"));

        Assert.Contains("a second YAML document starts here", error.Message, StringComparison.Ordinal);
        Assert.Contains("remove the extra '---'", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void Parse_AliasWithoutAnchor_IsASyntaxError()
        => Assert.Contains("*defaults refers to no anchor", Assert.Single(ErrorsOf(Provider + "\nserver: *defaults\n")).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("")]
    [InlineData("   \n")]
    [InlineData("# only a comment\n")]
    [InlineData("~\n")]
    [InlineData("---\n")]
    public void Parse_EmptyDocument_IsRejected(string yaml)
    {
        var error = Assert.Single(ErrorsOf(yaml));

        Assert.Equal("", error.Path);
        Assert.Equal("the configuration is empty; start from deploy/local/gateway.yaml (docs/configuration.md lists every key)", error.Message);
    }

    [Fact]
    public void Parse_TopLevelList_AsksForAMapping()
        => Single("- providers\n- models\n", "", "expected a mapping, found a list");

    [Fact]
    public void Parse_ComplexKey_IsRejected()
        => Single("providers:\n  ? [a, b]\n  : { kind: openai }\n", "providers", "is a list or mapping; keys are plain names");

    [Fact]
    public void Parse_UnsetVariable_NamesItAndHowToGiveADefault()
        => Single(Provider.Replace("base_url:", "api_key: \"${OPENAI_API_KEY}\", base_url:", StringComparison.Ordinal),
            "providers.openai.api_key", "environment variable OPENAI_API_KEY is not set; set it, or write ${OPENAI_API_KEY:-default} to allow a default");

    [Fact]
    public void Parse_VariableSetButEmpty_CountsAsUnset()
        => Single("server:\n  admin_key: ${ADMIN}\n", _ => "", "server.admin_key", "environment variable ADMIN is not set");

    [Fact]
    public void Parse_MalformedVariableReference_ShowsTheForm()
        => Single("server:\n  admin_key: ${admin-key}\n", "server.admin_key",
            "malformed variable reference; write ${NAME} or ${NAME:-default}");

    [Fact]
    public void Parse_UnsetVariableForANumber_IsReportedOnce()
        => Single("server:\n  max_json_depth: ${DEPTH}\n", "server.max_json_depth", "environment variable DEPTH is not set");
}
