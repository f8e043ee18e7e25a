namespace Gateway.Guard.Detection;

// One thing found in a text: its type and where it is. The value is read from the text only when an
// action needs it (pseudonymise), and never leaves the guard except as the placeholder map.
public readonly record struct EntityMatch(string Type, int Start, int Length)
{
    public int End => Start + Length;
}

public static class EntityTypes
{
    public const string Email = "EMAIL";
    public const string Phone = "PHONE";
    public const string CreditCard = "CREDIT_CARD";
    public const string Iban = "IBAN";
    public const string UsSsn = "US_SSN";
    public const string IpAddress = "IP_ADDRESS";
    public const string Crypto = "CRYPTO";
    public const string DateOfBirth = "DATE_OF_BIRTH";
    public const string Url = "URL";
    public const string Person = "PERSON";
    public const string Secret = "SECRET";
    public const string DenyList = "DENY_LIST";
    public const string Injection = "INJECTION";
    public const string ModerationPrefix = "MODERATION_";
}
