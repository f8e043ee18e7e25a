using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gateway.Guard.Detection;

// One pass over a text that finds where each detector could match, so that no pattern is ever run across
// the whole text: starts of digit runs (cards, SSNs, IBANs, IPs, phones, crypto), ':' and '=' (key = value
// secrets), word starts whose first letters begin a known keyword (secret prefixes such as AKIA or ghp_,
// name and birth-date cues, injection and moderation words), capitalised given names followed by another
// capitalised word, and long base64 runs. Detectors then run anchored (\G) patterns only at those places.
//
// Every keyword in a pattern begins at a regex word boundary (\b, or after \s), so "a keyword at a word
// start" is a superset of where the patterns can match; word starts here treat fewer characters as word
// characters than \w does, which only adds candidates. Buffers are reused per thread: no allocation per
// text once warm.
internal sealed class TextAnchors : IDisposable
{
    // Base64 runs at least this long are decoded and checked for an injection payload.
    public const int MinBase64Run = 40;

    [ThreadStatic]
    private static TextAnchors? t_spare;

    private static readonly Keyword[]?[] Buckets = BuildBuckets();


    public Positions DigitRuns { get; } = new();

    public Positions Separators { get; } = new();

    public Positions SecretStarts { get; } = new();

    public Positions PersonCues { get; } = new();

    public Positions GivenNames { get; } = new();

    public Positions BirthCues { get; } = new();

    public Positions SsnCues { get; } = new();

    // Pairs: start, length.
    public Positions Base64Runs { get; } = new();

    // An injection / moderation keyword is present (or a character that case-insensitive patterns fold onto
    // ASCII, which the keyword check cannot see: then the patterns always run).
    public bool Injection { get; private set; }

    public bool Moderation { get; private set; }

    public bool NonAscii { get; private set; }

    public static TextAnchors Find(ReadOnlySpan<char> text)
    {
        var anchors = t_spare ?? new TextAnchors();
        t_spare = null;
        anchors.Build(text);
        return anchors;
    }

    public void Dispose() => t_spare = this;

    private void Build(ReadOnlySpan<char> text)
    {
        DigitRuns.Clear();
        Separators.Clear();
        SecretStarts.Clear();
        PersonCues.Clear();
        GivenNames.Clear();
        BirthCues.Clear();
        SsnCues.Clear();
        Base64Runs.Clear();
        Injection = Moderation = NonAscii = false;

        // Eight characters at a time: masks of letters, digits, word characters and separators give word
        // starts and digit-run starts as bits; only those positions (and blocks holding non-ASCII text, which
        // take the scalar path) are looked at one by one.
        var state = new State();
        ref var chars = ref Unsafe.As<char, ushort>(ref MemoryMarshal.GetReference(text));
        var i = 0;
        for (; i + Vector128<ushort>.Count <= text.Length; i += Vector128<ushort>.Count)
        {
            var v = Vector128.LoadUnsafe(ref chars, (nuint)i);
            if ((v & Vector128.Create((ushort)0xFF80)) != Vector128<ushort>.Zero)
            {
                for (var k = i; k < i + Vector128<ushort>.Count; k++)
                {
                    Step(text, k, ref state);
                }
                continue;
            }
            var letters = Vector128.LessThan((v | Vector128.Create((ushort)0x20)) - Vector128.Create((ushort)'a'), Vector128.Create((ushort)26)).ExtractMostSignificantBits();
            var digits = Vector128.LessThan(v - Vector128.Create((ushort)'0'), Vector128.Create((ushort)10)).ExtractMostSignificantBits();
            var words = letters | digits | Vector128.Equals(v, Vector128.Create((ushort)'_')).ExtractMostSignificantBits();
            var separators = (Vector128.Equals(v, Vector128.Create((ushort)':')) | Vector128.Equals(v, Vector128.Create((ushort)'='))).ExtractMostSignificantBits();
            var base64 = letters | digits | (Vector128.Equals(v, Vector128.Create((ushort)'+')) | Vector128.Equals(v, Vector128.Create((ushort)'/'))).ExtractMostSignificantBits();
            var notBase64 = ~base64 & 0xFFu;
            if (notBase64 != 0)
            {
                EndBase64(state.Base64Start, i + BitOperations.TrailingZeroCount(notBase64));
                state.Base64Start = i + 32 - BitOperations.LeadingZeroCount(notBase64);
            }
            for (var starts = letters & ~((words << 1) | (state.Word ? 1u : 0u)); starts != 0; starts &= starts - 1)
            {
                WordStart(text, i + BitOperations.TrailingZeroCount(starts));
            }
            for (var starts = digits & ~((digits << 1) | (state.Digit ? 1u : 0u)); starts != 0; starts &= starts - 1)
            {
                DigitRuns.Add(i + BitOperations.TrailingZeroCount(starts));
            }
            for (; separators != 0; separators &= separators - 1)
            {
                Separators.Add(i + BitOperations.TrailingZeroCount(separators));
            }
            state.Word = (words & 0x80) != 0;
            state.Digit = (digits & 0x80) != 0;
        }
        for (; i < text.Length; i++)
        {
            Step(text, i, ref state);
        }
        EndBase64(state.Base64Start, text.Length);
    }

    private struct State
    {
        // The character before the current one is a word character (letter, digit, '_') / a digit.
        public bool Word;
        public bool Digit;

        // Where the current run of base64 characters began.
        public int Base64Start;
    }

    // One character, for blocks with non-ASCII text and the tail.
    private void Step(ReadOnlySpan<char> text, int i, ref State state)
    {
        var c = text[i];
        if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '/'))
        {
            EndBase64(state.Base64Start, i);
            state.Base64Start = i + 1;
        }
        if (char.IsAsciiLetter(c))
        {
            if (!state.Word)
            {
                WordStart(text, i);
            }
            state.Word = true;
            state.Digit = false;
        }
        else if (char.IsAsciiDigit(c) || (c >= 128 && char.IsDigit(c)))
        {
            if (!state.Digit)
            {
                DigitRuns.Add(i);
            }
            state.Word = state.Digit = true;
        }
        else if (c < 128)
        {
            state.Word = c == '_';
            state.Digit = false;
            if (c is ':' or '=')
            {
                Separators.Add(i);
            }
        }
        else
        {
            NonAscii = true;
            if (c is '\u212A' or '\u017F')
            {
                // Kelvin sign, long s: case-insensitive patterns read them as k and s.
                Injection = Moderation = true;
            }
            if (char.IsLetter(c) && !state.Word && char.IsUpper(c))
            {
                Capitalised(text, i);
            }
            state.Word = char.IsLetter(c);
            state.Digit = false;
        }
    }

    private void EndBase64(int start, int end)
    {
        if (end - start >= MinBase64Run)
        {
            Base64Runs.Add(start);
            Base64Runs.Add(end - start);
        }
    }

    private void WordStart(ReadOnlySpan<char> text, int at)
    {
        var first = (text[at] | 0x20) - 'a';
        var second = at + 1 < text.Length && char.IsAsciiLetter(text[at + 1]) ? (text[at + 1] | 0x20) - 'a' : 26;
        if (Buckets[first * 27 + second] is { } bucket)
        {
            var rest = text[at..];
            foreach (var keyword in bucket)
            {
                // Injection and moderation need one hit each.
                if ((keyword.Kind == KeywordKind.Injection && Injection) || (keyword.Kind == KeywordKind.Moderation && Moderation) || !keyword.MatchesAt(rest))
                {
                    continue;
                }
                switch (keyword.Kind)
                {
                    case KeywordKind.Injection: Injection = true; break;
                    case KeywordKind.Moderation: Moderation = true; break;
                    case KeywordKind.Secret: SecretStarts.AddOnce(at); break;
                    case KeywordKind.PersonCue: PersonCues.AddOnce(at); break;
                    case KeywordKind.BirthCue: BirthCues.AddOnce(at); break;
                    case KeywordKind.SsnCue: SsnCues.AddOnce(at); break;
                }
            }
        }
        if (char.IsAsciiLetterUpper(text[at]))
        {
            Capitalised(text, at);
        }
    }

    // A capitalised word of 2 to 21 letters followed by a space and another capital ("Maria Schmidt"), and
    // in the given-name list: where PersonDetector extends a name.
    private void Capitalised(ReadOnlySpan<char> text, int at)
    {
        var end = at + 1;
        while (end < text.Length && end - at <= 21 && char.IsLower(text[end]))
        {
            end++;
        }
        if (end - at is < 2 or > 21 || end + 1 >= text.Length || text[end] != ' ' || !char.IsUpper(text[end + 1]))
        {
            return;
        }
        if (PersonDetector.IsGivenName(text[at..end]))
        {
            GivenNames.Add(at);
        }
    }

    private static Keyword[]?[] BuildBuckets()
    {
        var keywords = new List<Keyword>();
        keywords.AddRange(ThreatDetector.InjectionKeywords.Select(k => new Keyword(k, KeywordKind.Injection, CaseSensitive: false, WholeWord: false)));
        keywords.AddRange(ThreatDetector.ModerationKeywords.Select(k => new Keyword(k, KeywordKind.Moderation, CaseSensitive: false, WholeWord: false)));
        keywords.AddRange(PiiScanner.SecretPrefixes.Select(k => new Keyword(k, KeywordKind.Secret, CaseSensitive: true, WholeWord: false)));
        keywords.AddRange(PiiScanner.BirthCueWords.Select(k => new Keyword(k, KeywordKind.BirthCue, CaseSensitive: false, WholeWord: false)));
        keywords.AddRange(PiiScanner.SsnCueWords.Select(k => new Keyword(k, KeywordKind.SsnCue, CaseSensitive: false, WholeWord: false)));
        keywords.AddRange(PersonDetector.CueWords.Select(k => new Keyword(k, KeywordKind.PersonCue, CaseSensitive: false, WholeWord: true)));
        var buckets = new List<Keyword>?[26 * 27];
        foreach (var keyword in keywords)
        {
            var text = keyword.Text;
            var first = (text[0] | 0x20) - 'a';
            if (first is < 0 or >= 26)
            {
                throw new InvalidOperationException($"keyword '{text}' must start with an ASCII letter");
            }
            var second = text.Length > 1 && char.IsAsciiLetter(text[1]) ? (text[1] | 0x20) - 'a' : 26;
            (buckets[first * 27 + second] ??= []).Add(keyword);
        }
        return buckets.Select(b => b?.ToArray()).ToArray();
    }

    private enum KeywordKind : byte
    {
        Injection,
        Moderation,
        Secret,
        PersonCue,
        BirthCue,
        SsnCue,
    }

    private readonly record struct Keyword(string Text, KeywordKind Kind, bool CaseSensitive, bool WholeWord)
    {
        private readonly bool _ascii = System.Text.Ascii.IsValid(Text);

        public bool MatchesAt(ReadOnlySpan<char> rest)
        {
            if (rest.Length < Text.Length)
            {
                return false;
            }
            if (CaseSensitive || !_ascii)
            {
                if (!rest.StartsWith(Text, CaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }
            }
            else
            {
                // ASCII keywords are stored in lower case: a letter matches itself or its upper case.
                for (var i = 0; i < Text.Length; i++)
                {
                    var c = rest[i];
                    if (c != Text[i] && !(char.IsAsciiLetterUpper(c) && (c | 0x20) == Text[i]))
                    {
                        return false;
                    }
                }
            }
            return !WholeWord || rest.Length == Text.Length || !char.IsLetter(rest[Text.Length]);
        }
    }
}

// A growable list of text offsets, reused across texts.
internal sealed class Positions
{
    private int[] _items = new int[16];

    public int Count { get; private set; }

    public ReadOnlySpan<int> Span => _items.AsSpan(0, Count);

    public void Clear() => Count = 0;

    public void Add(int position)
    {
        if (Count == _items.Length)
        {
            Array.Resize(ref _items, _items.Length * 2);
        }
        _items[Count++] = position;
    }

    public void AddOnce(int position)
    {
        if (Count == 0 || _items[Count - 1] != position)
        {
            Add(position);
        }
    }
}
