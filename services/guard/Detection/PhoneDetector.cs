using System.Text.RegularExpressions;
using PhoneNumbers;

namespace Gateway.Guard.Detection;

// Phone numbers: a cheap regex finds digit runs shaped like a number; libphonenumber decides. A number in
// international form (+CC or 00CC) must be valid for its country; a national number counts only when a
// context word (phone, tel, mobile, Telefon, téléphone, teléfono, ...) precedes it within 40 characters and
// it is valid in one of the regions tried. Order ids, amounts and timestamps fail one test or the other.
internal static partial class PhoneDetector
{
    private static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    private static readonly string[] NationalRegions = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "AU", "BR", "CH", "AT", "CA", "JP"];

    public static void Scan(string text, List<EntityMatch> found)
    {
        var span = text.AsSpan();
        foreach (var m in Candidate().EnumerateMatches(span))
        {
            var candidate = span.Slice(m.Index, m.Length);
            var digits = 0;
            foreach (var c in candidate)
            {
                if (char.IsAsciiDigit(c)) digits++;
            }
            if (digits is < 7 or > 15)
            {
                continue;
            }
            var international = candidate[0] == '+' || candidate.StartsWith("00", StringComparison.Ordinal);
            if (!international && !Context().IsMatch(span[Math.Max(0, m.Index - 40)..m.Index]))
            {
                continue;
            }
            if (IsValid(candidate.ToString(), international))
            {
                found.Add(new(EntityTypes.Phone, m.Index, m.Length));
            }
        }
    }

    private static bool IsValid(string candidate, bool international)
    {
        if (international)
        {
            return TryValid(candidate.StartsWith("00", StringComparison.Ordinal) ? "+" + candidate[2..] : candidate, "ZZ");
        }
        foreach (var region in NationalRegions)
        {
            if (TryValid(candidate, region))
            {
                return true;
            }
        }
        return false;
    }

    private static bool TryValid(string candidate, string region)
    {
        try
        {
            var number = Util.Parse(candidate, region);
            return Util.IsValidNumber(number);
        }
        catch (NumberParseException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"(?<![\w+.,/:-])(?:\+|00)?(?:\(\d{1,4}\)|\d)(?:[ .\-]?(?:\(\d{1,4}\)|\d)){6,16}(?![\w]|[.,/:-]\d)", RegexOptions.CultureInvariant)]
    private static partial Regex Candidate();

    [GeneratedRegex(@"(?i)(?:phone|tel|telephone|mobile|mob|cell|call|fax|contact|reach|whatsapp|sms|telefon|handy|mobil|rufnummer|tél|téléphone|portable|teléfono|telefono|móvil|celular|cellulare|電話|тел)\b[^\n]{0,40}$", RegexOptions.CultureInvariant)]
    private static partial Regex Context();
}
