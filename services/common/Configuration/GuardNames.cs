namespace Gateway.Common.Configuration;

// The names the guard section may use: entity types, actions and moderation categories.
public static class GuardNames
{
    public static readonly IReadOnlyList<string> EntityTypes =
        ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "CRYPTO", "DATE_OF_BIRTH", "URL", "PERSON", "SECRET", "DENY_LIST"];

    public static readonly IReadOnlyList<string> Actions = ["allow", "audit", "redact", "pseudonymize", "block", "route_self_hosted"];

    // Injection and moderation findings are about intent, not values: nothing to mask or restore.
    public static readonly IReadOnlyList<string> VerdictActions = ["allow", "audit", "block", "route_self_hosted"];

    public static readonly IReadOnlyList<string> ModerationCategories = ["violence", "self_harm", "hate", "sexual_minors", "weapons"];

    public const string Default = "default";
}
