using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.RegularExpressions;

namespace Gateway.Guard.Detection;

// Prompt-injection / jailbreak heuristics and moderation keyword categories. Each finding is a kind, not a
// value: INJECTION, MODERATION_VIOLENCE, ... Heuristics, so an operator chooses audit or block per policy.
//  - instruction-override phrases (English, German, French, Spanish, Italian)
//  - role-play jailbreaks (DAN, developer mode, "pretend you have no restrictions")
//  - encoded payloads: base64 runs whose decoded text contains an override phrase
//  - invisible Unicode: tag characters, bidi overrides, or several zero-width characters
public static partial class ThreatDetector
{
    public static readonly IReadOnlyList<string> Categories = ["violence", "self_harm", "hate", "sexual_minors", "weapons"];

    private static readonly SearchValues<char> ZeroWidth = SearchValues.Create("\u200B\u2060\u2061\u2062\u2063\u2064\uFEFF");
    private static readonly SearchValues<char> BidiOverride = SearchValues.Create("\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069");

    // Every alternative of InjectionPattern contains one of these words at a word start, and every moderation
    // pattern one of the second list: text with none of them cannot match, and TextAnchors' single pass says
    // so. Keep them in step with the patterns below.
    internal static readonly string[] InjectionKeywords =
        ["ignor", "disregard", "forget", "override", "bypass", "skip", "prompt", "instruction", "message", "dan", "mode",
         "unrestricted", "unfiltered", "uncensored", "jailbroken", "anything", "pretend", "evil", "ethical", "moral",
         "im_start", "inst]"];

    internal static readonly string[] ModerationKeywords =
        ["kill", "murder", "poison", "strangl", "hurt", "shoot", "stab", "suicid", "life", "harm", "myself", "want", "pills",
         "umbringen", "quitarme", "cleansing", "subhuman", "vermin", "animals", "disease", "gas", "race", "sexual", "nude",
         "naked", "porn", "erotic", "explicit", "bomb", "explosive", "nerve", "bioweapon", "ghost", "silencer", "napalm",
         "molotov", "sarin", "vx", "ricin", "anthrax"];

    public static int Injections(string text)
    {
        using var anchors = TextAnchors.Find(text);
        return Injections(text, anchors);
    }

    internal static int Injections(ReadOnlySpan<char> text, TextAnchors anchors)
    {
        var count = 0;
        if (anchors.Injection)
        {
            foreach (var m in InjectionPattern().EnumerateMatches(text))
            {
                count++;
            }
        }
        if (anchors.NonAscii && HasInvisibleUnicode(text))
        {
            count++;
        }
        // Base64 runs of 40 or more characters (plus up to two '=' of padding).
        var runs = anchors.Base64Runs.Span;
        for (var i = 0; i < runs.Length; i += 2)
        {
            var (start, length) = (runs[i], runs[i + 1]);
            var padded = start + length;
            while (padded < text.Length && padded - start - length < 2 && text[padded] == '=')
            {
                padded++;
            }
            if (EncodedInjection(text[start..padded]))
            {
                count++;
            }
        }
        return count;
    }

    private static bool HasInvisibleUnicode(ReadOnlySpan<char> text)
    {
        if (text.IndexOfAny(BidiOverride) >= 0)
        {
            return true;
        }
        // Unicode tag characters U+E0000..U+E007F (surrogates DB40 DC00..DC7F) hide ASCII from a reader.
        var tag = text.IndexOf('\uDB40');
        if (tag >= 0 && tag + 1 < text.Length && text[tag + 1] is >= '\uDC00' and <= '\uDC7F')
        {
            return true;
        }
        var zeroWidth = 0;
        var rest = text;
        while (rest.IndexOfAny(ZeroWidth) is var at and >= 0)
        {
            // A byte-order mark at the very start is an encoding artefact, not a hiding place.
            if (!(rest[at] == '\uFEFF' && rest.Length == text.Length && at == 0) && ++zeroWidth >= 3)
            {
                return true;
            }
            rest = rest[(at + 1)..];
        }
        return false;
    }

    private static bool EncodedInjection(ReadOnlySpan<char> run)
    {
        var length = run.Length & ~3;
        if (length < 40)
        {
            return false;
        }
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var ascii = rented.AsSpan(0, length);
            for (var i = 0; i < length; i++)
            {
                ascii[i] = (byte)run[i];
            }
            if (Base64.DecodeFromUtf8InPlace(ascii, out var written) != OperationStatus.Done)
            {
                return false;
            }
            Span<char> decoded = written <= 4096 ? stackalloc char[written] : new char[written];
            var chars = Encoding.Latin1.GetChars(ascii[..written], decoded);
            return InjectionPattern().IsMatch(decoded[..chars]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public static void Moderation(string text, Span<int> counts)
    {
        using var anchors = TextAnchors.Find(text);
        Moderation(text, anchors, counts);
    }

    internal static void Moderation(ReadOnlySpan<char> text, TextAnchors anchors, Span<int> counts)
    {
        if (!anchors.Moderation)
        {
            return;
        }
        foreach (var _ in Violence().EnumerateMatches(text)) counts[0]++;
        foreach (var _ in SelfHarm().EnumerateMatches(text)) counts[1]++;
        foreach (var _ in Hate().EnumerateMatches(text)) counts[2]++;
        foreach (var _ in SexualMinors().EnumerateMatches(text)) counts[3]++;
        foreach (var _ in Weapons().EnumerateMatches(text)) counts[4]++;
    }

    [GeneratedRegex("""
        \b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+|the\s+|every\s+|your\s+)*(?:previous|prior|above|earlier|preceding|foregoing|initial|original|system|safety)\s+(?:instructions?|prompts?|rules|directions|directives|guidelines|context|messages?)
        |\bforget\s+(?:everything|all)\s+(?:you\s+were\s+told|above|before|previously)
        |\b(?:reveal|print|show|repeat|output|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+(?:full\s+)?(?:system|hidden|initial|secret|original)\s+(?:prompt|instructions|message)
        |\byou\s+are\s+now\s+(?:DAN|in\s+developer\s+mode|an?\s+(?:unrestricted|unfiltered|uncensored|jailbroken))
        |\bdo\s+anything\s+now\b
        |\b(?:developer|god|jailbreak|sudo|dan)\s+mode\s+(?:enabled|activated|on)\b
        |\benable\s+(?:developer|jailbreak|god)\s+mode\b
        |\bpretend\s+(?:that\s+)?you\s+(?:are|have)\s+(?:no|an?\s+AI\s+(?:without|with\s+no))\s+(?:restrictions|rules|filters|guidelines|limitations)
        |\b(?:act|respond|answer)\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|evil|jailbroken)\b
        |\bwithout\s+any\s+(?:ethical|moral)\s+(?:restrictions|guidelines|limits)
        |\bnew\s+system\s+prompt\s*:
        |<\|im_start\|>\s*system
        |\[/?INST\]\s*(?:ignore|system)
        |\bignoriere\s+(?:alle\s+)?(?:vorherigen|bisherigen|obigen)\s+(?:Anweisungen|Instruktionen|Regeln)
        |\bignore[rz]?\s+(?:toutes\s+)?les\s+instructions\s+(?:précédentes|ci-dessus)
        |\bignora\s+(?:todas\s+)?las\s+instrucciones\s+(?:anteriores|previas)
        |\bignora\s+(?:tutte\s+)?le\s+istruzioni\s+(?:precedenti|sopra)
        """, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex InjectionPattern();

    [GeneratedRegex(@"\b(?:how\s+(?:to|do\s+i|can\s+i)\s+(?:kill|murder|poison|strangle|hurt)\s+(?:a\s+|my\s+|someone|somebody|people|him|her)|i\s+(?:will|am\s+going\s+to|want\s+to)\s+(?:kill|murder|shoot|stab)\s+(?:you|him|her|them|everyone|my)|mass\s+shooting\s+plan)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Violence();

    [GeneratedRegex(@"\b(?:kill\s+myself|suicide\s+(?:method|plan|note)|end\s+my\s+(?:own\s+)?life|self[-\s]harm|cut\s+myself|want\s+to\s+die|how\s+many\s+pills\s+(?:to|would)|mich\s+umbringen|me\s+suicider|quitarme\s+la\s+vida)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SelfHarm();

    [GeneratedRegex(@"\b(?:ethnic\s+cleansing\s+is|(?:they|jews|muslims|christians|immigrants|blacks|whites|gays)\s+(?:are|is)\s+(?:subhuman|vermin|animals|a\s+disease)|gas\s+the\s+\w+|race\s+war\s+now)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Hate();

    [GeneratedRegex(@"\b(?:child|children|minor|minors|underage|kid|kids|preteen|\d{1,2}[-\s]year[-\s]old)\b[^.\n]{0,30}\b(?:sexual|sexually|nude|naked|porn|erotic|explicit)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SexualMinors();

    [GeneratedRegex(@"\b(?:how\s+(?:to|do\s+i|can\s+i)\s+(?:make|build|assemble|synthesi[sz]e|3d\s+print)\s+(?:a\s+|an\s+)?(?:bomb|pipe\s+bomb|explosives?|nerve\s+agent|bioweapon|ghost\s+gun|silencer|napalm|molotov)|(?:synthesi[sz]e|produce|weaponi[sz]e)\s+(?:sarin|vx|ricin|anthrax|mustard\s+gas))", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Weapons();
}
