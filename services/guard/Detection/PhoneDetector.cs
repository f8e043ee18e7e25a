using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using PhoneNumbers;

namespace Gateway.Guard.Detection;

// Phone numbers: a cheap pattern, anchored where a digit run starts (or the '+' / '(' before it), finds digit
// runs shaped like a number; libphonenumber decides. A number in international form (+CC or 00CC) must be
// valid for its country; a national number counts only when a context word (phone, tel, mobile, Telefon,
// téléphone, teléfono, ...) precedes it within 40 characters and it is valid in one of the regions tried.
// Order ids, amounts and timestamps fail one test or the other.
internal static partial class PhoneDetector
{
    private static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    private static readonly string[] NationalRegions = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "AU", "BR", "CH", "AT", "CA", "JP"];

    // libphonenumber takes microseconds per candidate and allocates; its answer depends only on the candidate,
    // and the same numbers recur (a chat request resends its whole history every turn, signatures repeat).
    // Remembered per candidate text (which also decides national or international), bounded: cleared when full.
    private const int MemoLimit = 4096;
    private static readonly ConcurrentDictionary<string, bool> Memo = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, bool>.AlternateLookup<ReadOnlySpan<char>> MemoLookup = Memo.GetAlternateLookup<ReadOnlySpan<char>>();

    public static void Scan(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        var taken = 0;
        foreach (var run in anchors.DigitRuns.Span)
        {
            if (run < taken)
            {
                continue;
            }
            // The number may open with "+", "(" or "+(" before its first digit.
            var first = run;
            if (first > 0 && text[first - 1] == '(')
            {
                first--;
            }
            if (first > 0 && text[first - 1] == '+')
            {
                first--;
            }
            for (var at = Math.Max(first, taken); at <= run; at++)
            {
                if (!EnoughDigits(text, at) || PiiScanner.MatchAt(CandidateAt(), text, at) is not (> 0 and var length))
                {
                    continue;
                }
                taken = at + length;
                Validate(text, at, length, found);
                break;
            }
        }
    }

    // At least 7 digits among the characters a number is written with: cheaper than the pattern.
    private static bool EnoughDigits(ReadOnlySpan<char> text, int at)
    {
        var digits = 0;
        for (var i = at; i < text.Length && digits < 7; i++)
        {
            var c = text[i];
            if (char.IsAsciiDigit(c))
            {
                digits++;
            }
            else if (c is not (' ' or '.' or '-' or '(' or ')' or '+'))
            {
                break;
            }
        }
        return digits >= 7;
    }

    private static void Validate(ReadOnlySpan<char> text, int at, int length, List<EntityMatch> found)
    {
        var candidate = text.Slice(at, length);
        var digits = 0;
        foreach (var c in candidate)
        {
            if (char.IsAsciiDigit(c)) digits++;
        }
        if (digits is < 7 or > 15)
        {
            return;
        }
        var international = candidate[0] == '+' || candidate.StartsWith("00", StringComparison.Ordinal);
        if (!international && !Context().IsMatch(text[Math.Max(0, at - 40)..at]))
        {
            return;
        }
        if (!MemoLookup.TryGetValue(candidate, out var valid))
        {
            var value = candidate.ToString();
            valid = IsValid(value, international);
            if (Memo.Count >= MemoLimit)
            {
                Memo.Clear();
            }
            Memo.TryAdd(value, valid);
        }
        if (valid)
        {
            found.Add(new(EntityTypes.Phone, at, length));
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

    [GeneratedRegex(@"\G(?:(?<![\w+.,/:-])(?:\+|00)?(?:\(\d{1,4}\)|\d)(?:[ .\-]?(?:\(\d{1,4}\)|\d)){6,16}(?![\w]|[.,/:-]\d))", RegexOptions.CultureInvariant)]
    private static partial Regex CandidateAt();

    [GeneratedRegex(@"(?i)(?:phone|tel|telephone|mobile|mob|cell|call|fax|contact|reach|whatsapp|sms|telefon|handy|mobil|rufnummer|tél|téléphone|portable|teléfono|telefono|móvil|celular|cellulare|電話|тел)\b[^\n]{0,40}$", RegexOptions.CultureInvariant)]
    private static partial Regex Context();
}
