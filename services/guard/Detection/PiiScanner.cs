using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Gateway.Guard.Detection;

// The built-in detectors. TextAnchors makes one pass over the text and says where each detector could match
// (digit runs, separators, keyword starts); each detector then runs its source-generated pattern anchored
// (\G) at those places only, enumerated without allocating, and validates what it matched. Overlaps are
// resolved once at the end: the earlier, then the longer detection wins.
public static partial class PiiScanner
{
    // Where the secret patterns can start (case-sensitive); keep in step with SecretPatternAt.
    internal static readonly string[] SecretPrefixes =
        ["AKIA", "ASIA", "ABIA", "ACCA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "sk-", "sk_", "rk_", "xox",
         "AIza", "ya29.", "GOCSPX-", "whsec_", "hf_", "SG.", "eyJ"];

    // The first word of every alternative of BirthCueAt (case-insensitive prefixes).
    internal static readonly string[] BirthCueWords = ["dob", "d.o.b", "date", "data", "birth", "born", "geb", "né", "fecha", "nacid", "nat", "f. nac"];

    internal static readonly string[] SsnCueWords = ["ssn", "social"];

    private static readonly Comparer<EntityMatch> EarlierThenLonger =
        Comparer<EntityMatch>.Create(static (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : b.Length.CompareTo(a.Length));

    // Adds what the text holds to `found` and resolves overlaps across everything in the list (so custom
    // patterns added before the call take part).
    public static void Scan(string text, List<EntityMatch> found)
    {
        using var anchors = TextAnchors.Find(text);
        Scan(text, anchors, found);
    }

    internal static void Scan(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        if (text.Contains('@'))
        {
            Emails(text, found);
        }
        var hasScheme = text.Contains("://", StringComparison.Ordinal);
        if (hasScheme)
        {
            CredentialUrls(text, found);
        }
        Secrets(text, anchors, hasScheme, found);
        if (anchors.DigitRuns.Count > 0)
        {
            Cards(text, anchors, found);
            Ssns(text, anchors, found);
            Ibans(text, anchors, found);
            IpAddresses(text, anchors, found);
            Crypto(text, anchors, found);
            DatesOfBirth(text, anchors, found);
            PhoneDetector.Scan(text, anchors, found);
        }
        PersonDetector.Scan(text, anchors, found);
        Resolve(found);
    }

    // Sort by start; drop any detection that overlaps one already kept (earlier, then longer, wins).
    public static void Resolve(List<EntityMatch> found, int from = 0)
    {
        if (found.Count - from < 2)
        {
            return;
        }
        found.Sort(from, found.Count - from, EarlierThenLonger);
        var write = from;
        for (var read = from; read < found.Count; read++)
        {
            if (write > from && found[read].Start < found[write - 1].End)
            {
                continue;
            }
            found[write++] = found[read];
        }
        found.RemoveRange(write, found.Count - write);
    }

    // The length of the anchored (\G) pattern's match at `at`, or -1.
    internal static int MatchAt(Regex anchored, ReadOnlySpan<char> text, int at)
    {
        foreach (var m in anchored.EnumerateMatches(text, at))
        {
            return m.Index == at ? m.Length : -1;
        }
        return -1;
    }

    // The run of digits starting at `at`.
    private static int DigitRun(ReadOnlySpan<char> text, int at)
    {
        var end = at;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }
        return end - at;
    }

    // Anchored on each '@' (a vectorised search): the pattern runs only on the run of address characters
    // around it, never across the whole text.
    internal static void Emails(ReadOnlySpan<char> text, List<EntityMatch> found)
    {
        var from = 0;
        while (from < text.Length && text[from..].IndexOf('@') is var relative and >= 0)
        {
            var at = from + relative;
            var start = at;
            while (start > from && at - start < 64 && (char.IsAsciiLetterOrDigit(text[start - 1]) || text[start - 1] is '.' or '_' or '%' or '+' or '-'))
            {
                start--;
            }
            var end = at + 1;
            while (end < text.Length && end - at < 256 && (char.IsAsciiLetterOrDigit(text[end]) || text[end] is '.' or '-'))
            {
                end++;
            }
            foreach (var m in EmailPattern().EnumerateMatches(text[start..end]))
            {
                found.Add(new(EntityTypes.Email, start + m.Index, m.Length));
                break;
            }
            from = end;
        }
    }

    // Anchored on each "://": the scheme is the run of letters, digits, '+', '.', '-' (2 to 16) before it.
    internal static void CredentialUrls(ReadOnlySpan<char> text, List<EntityMatch> found)
    {
        var from = 0;
        var taken = 0;
        while (text[from..].IndexOf("://", StringComparison.Ordinal) is var relative and >= 0)
        {
            var colon = from + relative;
            var scheme = colon;
            while (scheme > 0 && colon - scheme < 16 && (char.IsAsciiLetterOrDigit(text[scheme - 1]) || text[scheme - 1] is '+' or '.' or '-'))
            {
                scheme--;
            }
            for (var start = Math.Max(scheme, taken); start < colon - 1; start++)
            {
                if (!char.IsAsciiLetter(text[start]) || MatchAt(CredentialUrlPatternAt(), text, start) is not (> 0 and var length))
                {
                    continue;
                }
                taken = start + length;
                var url = text.Slice(start, length);
                var userInfo = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..url.LastIndexOf('@')];
                var password = userInfo[(userInfo.IndexOf(':') + 1)..];
                // Templates, not credentials: ${PASS}, <password>, ****.
                if (!(password.Length == 0 || password[0] is '$' or '<' or '{' or '%' || password.IndexOfAnyExcept('*') < 0))
                {
                    found.Add(new(EntityTypes.Url, start, length));
                }
                break;
            }
            from = Math.Max(colon + 3, taken);
        }
    }

    internal static void Secrets(ReadOnlySpan<char> text, TextAnchors anchors, bool hasScheme, List<EntityMatch> found)
    {
        var taken = 0;
        foreach (var at in anchors.SecretStarts.Span)
        {
            if (at >= taken)
            {
                taken = KnownSecretAt(text, at, found, taken);
            }
        }
        foreach (var marker in (ReadOnlySpan<string>)["-----BEGIN", "https://hooks.slack.com/"])
        {
            if (marker[0] == 'h' && !hasScheme)
            {
                continue;
            }
            var from = 0;
            while (text[from..].IndexOf(marker, StringComparison.Ordinal) is var relative and >= 0)
            {
                from = Math.Max(from + relative + marker.Length, KnownSecretAt(text, from + relative, found, from + relative));
            }
        }
        KeyValueSecrets(text, anchors, found);
    }

    // Runs the secret pattern at `at`; returns the end of what it matched (or `taken` when nothing).
    private static int KnownSecretAt(ReadOnlySpan<char> text, int at, List<EntityMatch> found, int taken)
    {
        if (MatchAt(SecretPatternAt(), text, at) is not (> 0 and var length))
        {
            return taken;
        }
        if (IsSecret(text.Slice(at, length)))
        {
            found.Add(new(EntityTypes.Secret, at, length));
        }
        return at + length;
    }

    // `password = value`, anchored on each ':' / '=': the keyword is the identifier just before it (after an
    // optional quote and up to three spaces), starting at a letter not preceded by a letter or digit.
    private static void KeyValueSecrets(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        var taken = 0;
        foreach (var separator in anchors.Separators.Span)
        {
            if (separator < taken)
            {
                continue;
            }
            var end = separator;
            while (end > 0 && separator - end < 3 && char.IsWhiteSpace(text[end - 1]))
            {
                end--;
            }
            if (end > 0 && text[end - 1] is '"' or '\'')
            {
                end--;
            }
            var start = end;
            while (start > 0 && end - start < 40 && (char.IsAsciiLetterOrDigit(text[start - 1]) || text[start - 1] is '_' or '-'))
            {
                start--;
            }
            for (var at = Math.Max(start, taken); at < end; at++)
            {
                if (!char.IsAsciiLetter(text[at]) || (at > 0 && char.IsAsciiLetterOrDigit(text[at - 1]))
                    || MatchAt(KeyValueSecretAt(), text, at) is not (> 0 and var length))
                {
                    continue;
                }
                taken = at + length;
                // The value starts after the separator, an optional '>', spaces and an opening quote.
                var match = text.Slice(at, length);
                var valueStart = match.IndexOfAny(':', '=') + 1;
                while (valueStart < match.Length && match[valueStart] is '>' or ' ' or '\t' or '"' or '\'')
                {
                    valueStart++;
                }
                var value = match[valueStart..];
                if (value.Length >= 8 && IsSecret(value))
                {
                    found.Add(new(EntityTypes.Secret, at + valueStart, value.Length));
                }
                break;
            }
        }
    }

    internal static bool IsSecret(ReadOnlySpan<char> value)
    {
        // AWS documents AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY; vendors' docs do the same.
        if (value.Contains("EXAMPLE", StringComparison.Ordinal) || value.Contains("example", StringComparison.Ordinal))
        {
            return false;
        }
        if (value.StartsWith("-----BEGIN", StringComparison.Ordinal))
        {
            return true;
        }
        if (KnownSecretPrefix().IsMatch(value))
        {
            return true;
        }
        // A value after password=/token=/...: a secret only when it looks random, not like a placeholder.
        if (value.Length < 8 || value[0] is '$' or '<' or '{' or '%' or '[' or '(' || value.IndexOfAnyExcept("*xX.-_") < 0)
        {
            return false;
        }
        if (PlaceholderWord().IsMatch(value))
        {
            return false;
        }
        if (value.Length == 40 && value.IndexOfAnyExcept("0123456789abcdef") < 0)
        {
            // A bare git commit / SHA-1 is not a credential.
            return false;
        }
        return Validators.Entropy(value) >= 3.0 && Validators.CharacterClasses(value) >= 2;
    }

    internal static void Cards(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        Span<char> digits = stackalloc char[19];
        Span<int> groups = stackalloc int[19];
        var taken = 0;
        foreach (var at in anchors.DigitRuns.Span)
        {
            // 12 to 19 digits, single spaces or dashes between them: count before running the pattern.
            var count = 0;
            for (var i = at; i < text.Length && count < 12; i++)
            {
                if (char.IsAsciiDigit(text[i]))
                {
                    count++;
                }
                else if (!(text[i] is ' ' or '-' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
                {
                    break;
                }
            }
            if (at < taken || count < 12 || MatchAt(CardPatternAt(), text, at) is not (> 0 and var length))
            {
                continue;
            }
            taken = at + length;
            var candidate = text.Slice(at, length);
            count = 0;
            var separator = '\0';
            var consistent = true;
            var group = 0;
            groups[0] = 0;
            foreach (var c in candidate)
            {
                if (char.IsAsciiDigit(c))
                {
                    digits[count++] = c;
                    groups[group]++;
                    continue;
                }
                if (separator == '\0')
                {
                    separator = c;
                }
                else if (separator != c)
                {
                    consistent = false;
                }
                groups[++group] = 0;
            }
            consistent &= group == 0 || CardGrouping(groups[..(group + 1)]);
            var number = digits[..count];
            if (consistent && count is >= 12 and <= 19 && Validators.CardNetwork(number) && Validators.Luhn(number) && number.IndexOfAnyExcept(number[0]) >= 0)
            {
                found.Add(new(EntityTypes.CreditCard, at, length));
            }
        }
    }

    // How cards are printed: 4-4-4-4 (and 4-4-4-4-3 for 19 digits), or 4-6-5 / 4-6-4 (Amex, Diners).
    private static bool CardGrouping(ReadOnlySpan<int> groups)
    {
        if (groups.Length == 3 && groups[0] == 4 && groups[1] == 6 && groups[2] is 4 or 5)
        {
            return true;
        }
        for (var i = 0; i < groups.Length - 1; i++)
        {
            if (groups[i] != 4)
            {
                return false;
            }
        }
        return groups[^1] is >= 1 and <= 4;
    }

    internal static void Ssns(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        foreach (var at in anchors.DigitRuns.Span)
        {
            if (at + 3 < text.Length && text[at + 3] is '-' or ' ' && DigitRun(text, at) == 3 && MatchAt(SsnPatternAt(), text, at) > 0)
            {
                var s = text.Slice(at, 11);
                if (Validators.UsSsn(Int(s[..3]), Int(s[4..6]), Int(s[7..])))
                {
                    found.Add(new(EntityTypes.UsSsn, at, 11));
                }
            }
        }
        var taken = 0;
        foreach (var at in anchors.SsnCues.Span)
        {
            if (at < taken || MatchAt(SsnContextPatternAt(), text, at) is not (> 0 and var length))
            {
                continue;
            }
            taken = at + length;
            // The nine digits end the match.
            var s = text.Slice(taken - 9, 9);
            if (Validators.UsSsn(Int(s[..3]), Int(s[3..5]), Int(s[5..])))
            {
                found.Add(new(EntityTypes.UsSsn, taken - 9, 9));
            }
        }
    }

    private static int Int(ReadOnlySpan<char> digits) => int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);

    // Anchored two letters before a digit run: country code, check digits, then the account.
    internal static void Ibans(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        Span<char> compact = stackalloc char[34];
        var taken = 0;
        foreach (var run in anchors.DigitRuns.Span)
        {
            var at = run - 2;
            if (at < taken || !char.IsAsciiLetterUpper(text[run - 1]) || !char.IsAsciiLetterUpper(text[at])
                || Validators.IbanLength(text.Slice(at, 2)) is not (> 0 and var expected)
                || MatchAt(IbanPatternAt(), text, at) is not (> 0 and var length))
            {
                continue;
            }
            taken = at + length;
            var candidate = text.Slice(at, length);
            // Take exactly the country's length of alphanumerics: a following word may have been swallowed.
            var count = 0;
            var end = 0;
            for (; end < candidate.Length && count < expected; end++)
            {
                var c = candidate[end];
                if (c != ' ')
                {
                    compact[count++] = char.ToUpperInvariant(c);
                }
            }
            if (count == expected && (end == candidate.Length || !char.IsAsciiLetterOrDigit(candidate[end]) || candidate[end - 1] == ' ' || candidate[end] == ' ')
                && Validators.IbanChecksum(compact[..count]))
            {
                found.Add(new(EntityTypes.Iban, at, end));
            }
        }
    }

    internal static void IpAddresses(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        foreach (var at in anchors.DigitRuns.Span)
        {
            var run = DigitRun(text, at);
            if (run is < 1 or > 3 || at + run >= text.Length || text[at + run] != '.' || MatchAt(Ipv4PatternAt(), text, at) is not (> 0 and var length))
            {
                continue;
            }
            var ip = text.Slice(at, length);
            if (ip.SequenceEqual("0.0.0.0") || VersionContext().IsMatch(text[Math.Max(0, at - 12)..at]))
            {
                continue;
            }
            found.Add(new(EntityTypes.IpAddress, at, length));
        }
        if (!text.Contains("::", StringComparison.Ordinal) && text.Count(':') < 7)
        {
            return;
        }
        // IPv6, anchored on a ':' that another follows within five characters: the address starts at the run of
        // up to four hex digits before it (or at the ':' itself, as in ::1).
        var taken = 0;
        foreach (var colon in anchors.Separators.Span)
        {
            if (colon < taken || text[colon] != ':' || text[(colon + 1)..Math.Min(text.Length, colon + 6)].IndexOf(':') < 0)
            {
                continue;
            }
            var start = colon;
            while (start > 0 && colon - start <= 4 && char.IsAsciiHexDigit(text[start - 1]))
            {
                start--;
            }
            if (colon - start > 4 || MatchAt(Ipv6PatternAt(), text, start) is not (> 0 and var length))
            {
                continue;
            }
            taken = start + length;
            var ip = text.Slice(start, length);
            if (IPAddress.TryParse(ip, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                && HexGroups(ip) >= 3 && !address.Equals(IPAddress.IPv6Any))
            {
                found.Add(new(EntityTypes.IpAddress, start, length));
            }
        }
    }

    private static int HexGroups(ReadOnlySpan<char> ip)
    {
        var groups = 0;
        foreach (var range in ip.Split(':'))
        {
            if (range.End.Value > range.Start.Value)
            {
                groups++;
            }
        }
        return groups;
    }

    // Bitcoin Base58 addresses start at a 1 or 3, Bech32 at bc1 / tb1 (the digit run is the 1), Ethereum at 0x.
    internal static void Crypto(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        foreach (var at in anchors.DigitRuns.Span)
        {
            var c = text[at];
            if (c is '1' or '3' && MatchAt(BitcoinBase58PatternAt(), text, at) is > 0 and var base58 && Validators.Base58Check(text.Slice(at, base58)))
            {
                found.Add(new(EntityTypes.Crypto, at, base58));
            }
            if (c == '1' && at >= 2 && text.Slice(at - 2, 2) is "bc" or "BC" or "tb"
                && MatchAt(BitcoinBech32PatternAt(), text, at - 2) is > 0 and var bech32 && Validators.Bech32(text.Slice(at - 2, bech32)))
            {
                found.Add(new(EntityTypes.Crypto, at - 2, bech32));
            }
            if (c == '0' && at + 1 < text.Length && text[at + 1] == 'x' && MatchAt(EthereumPatternAt(), text, at) > 0)
            {
                var hex = text.Slice(at + 2, 40);
                // The zero address and burn addresses are not anyone's; mixed case must carry the EIP-55 checksum.
                if (hex.IndexOfAnyExcept('0') >= 0 && !hex.StartsWith("000000000000", StringComparison.Ordinal) && Validators.Eip55(hex))
                {
                    found.Add(new(EntityTypes.Crypto, at, 42));
                }
            }
        }
    }

    internal static void DatesOfBirth(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        var taken = 0;
        foreach (var at in anchors.BirthCues.Span)
        {
            if (at < taken || MatchAt(BirthCueAt(), text, at) is not (> 0 and var length))
            {
                continue;
            }
            var start = taken = at + length;
            var rest = text.Slice(start, Math.Min(40, text.Length - start));
            foreach (var m in DateAtStart().EnumerateMatches(rest))
            {
                if (PlausibleDate(rest.Slice(m.Index, m.Length)))
                {
                    found.Add(new(EntityTypes.DateOfBirth, start + m.Index, m.Length));
                }
                break;
            }
        }
    }

    // Numeric dates: every field in range for some reading (Y-M-D, D.M.Y, M/D/Y); named months pass.
    private static bool PlausibleDate(ReadOnlySpan<char> date)
    {
        Span<int> parts = stackalloc int[3];
        var count = 0;
        var value = -1;
        foreach (var c in date)
        {
            if (char.IsAsciiDigit(c))
            {
                value = (value < 0 ? 0 : value * 10) + (c - '0');
            }
            else if (value >= 0)
            {
                if (count == 3) return true;
                parts[count++] = value;
                value = -1;
            }
            if (char.IsAsciiLetter(c))
            {
                return true;
            }
        }
        if (value >= 0 && count < 3)
        {
            parts[count++] = value;
        }
        if (count != 3)
        {
            return false;
        }
        if (parts[0] > 31)
        {
            return parts[0] is >= 1900 and <= 2100 && parts[1] is >= 1 and <= 12 && parts[2] is >= 1 and <= 31;
        }
        return (parts[0] is >= 1 and <= 31 && parts[1] is >= 1 and <= 31 && (parts[0] <= 12 || parts[1] <= 12))
            && (parts[2] is >= 1900 and <= 2100 || parts[2] is >= 0 and <= 99);
    }

    [GeneratedRegex(@"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63}[A-Za-z0-9_%+-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])", RegexOptions.CultureInvariant)]
    private static partial Regex EmailPattern();

    [GeneratedRegex(@"\G(?:\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s/?#@:""'<>]+:[^\s/?""'<>]+@[^\s/?#""'<>@]+)", RegexOptions.CultureInvariant)]
    private static partial Regex CredentialUrlPatternAt();

    [GeneratedRegex("""
        \G(?:\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b
        |\bgh[pousr]_[A-Za-z0-9]{36,255}\b
        |\bgithub_pat_[A-Za-z0-9_]{50,255}\b
        |\bsk-ant-(?:api|admin|oat)\d\d-[A-Za-z0-9_-]{32,}
        |\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{32,}
        |\bxox[abposre]-[A-Za-z0-9-]{10,}
        |https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}
        |\bAIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])
        |\bya29\.[0-9A-Za-z_-]{20,}
        |\bGOCSPX-[A-Za-z0-9_-]{28}
        |\b(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{20,99}\b
        |\bwhsec_[A-Za-z0-9+/]{32,}
        |\bhf_[A-Za-z0-9]{30,40}\b
        |\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}
        |\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*
        |-----BEGIN[A-Z ]{0,20}PRIVATE\ KEY(?:\ BLOCK)?-----[\s\S]*?(?:-----END[A-Z ]{0,20}PRIVATE\ KEY(?:\ BLOCK)?-----|\z))
        """, RegexOptions.CultureInvariant | RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex SecretPatternAt();

    // `password = value`, `"api_key": "value"`, `token=>value`: the keyword, a separator, then the value.
    [GeneratedRegex(@"\G(?:(?<![A-Za-z0-9])(?i:password|passwd|pwd|passphrase|secret|secret_access_key|secret_key|token|api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret|private[_-]?key|credentials?)[""']?\s{0,3}[:=]>?\s{0,3}[""']?[^\s""'`,;)}\]]{8,200})", RegexOptions.CultureInvariant)]
    private static partial Regex KeyValueSecretAt();

    [GeneratedRegex(@"^(?:AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|sk-|xox|https://hooks\.slack|AIza|ya29\.|GOCSPX-|sk_|rk_|whsec_|hf_|SG\.|eyJ)", RegexOptions.CultureInvariant)]
    private static partial Regex KnownSecretPrefix();

    [GeneratedRegex(@"(?i)your|placeholder|changeme|redacted|example|dummy|xxxx|\*\*\*|^null$|^none$|^true$|^false$|^undefined$", RegexOptions.CultureInvariant)]
    private static partial Regex PlaceholderWord();

    [GeneratedRegex(@"\G(?:(?<!\d|\d[./])\d(?:[ -]?\d){11,18}(?![\d-]|[.,/]\d))", RegexOptions.CultureInvariant)]
    private static partial Regex CardPatternAt();

    [GeneratedRegex(@"\G(?:(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])|(?<![\d ])\d{3} \d{2} \d{4}(?![\d ]))", RegexOptions.CultureInvariant)]
    private static partial Regex SsnPatternAt();

    [GeneratedRegex(@"\G(?:\b(?i:ssn|social security(?: number| no\.?)?)\b[\s:#=]{0,4}(?:is\s)?\d{9}(?!\d))", RegexOptions.CultureInvariant)]
    private static partial Regex SsnContextPatternAt();

    [GeneratedRegex(@"\G(?:\b[A-Z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30})", RegexOptions.CultureInvariant)]
    private static partial Regex IbanPatternAt();

    [GeneratedRegex(@"\G(?:(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w-]|\.\d|/\d))", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv4PatternAt();

    [GeneratedRegex(@"(?i)\b(?:version|ver\.?|release|build|rev)\s*[:=]?\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex VersionContext();

    [GeneratedRegex(@"\G(?:(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:]|/\d))", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv6PatternAt();

    [GeneratedRegex(@"\G(?:(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9]))", RegexOptions.CultureInvariant)]
    private static partial Regex BitcoinBase58PatternAt();

    [GeneratedRegex(@"\G(?:(?<![A-Za-z0-9])(?:bc1|BC1|tb1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71}(?![A-Za-z0-9]))", RegexOptions.CultureInvariant)]
    private static partial Regex BitcoinBech32PatternAt();

    [GeneratedRegex(@"\G(?:(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![A-Za-z0-9]))", RegexOptions.CultureInvariant)]
    private static partial Regex EthereumPatternAt();

    [GeneratedRegex("""
        \G(?:\b(?i:dob|d\.o\.b\.?|date\ of\ birth|birth\ ?date|birthday|born(?:\ on)?|geburtsdatum|geb\.|geboren(?:\ am)?|née?\ le|date\ de\ naissance|fecha\ de\ nacimiento|nacid[oa]\ el|data\ di\ nascita|nato\ il|nata\ il|geboortedatum|f\.\ nac\.)["']?\s{0,3}[:=\-]?\s{0,3}["']?)
        """, RegexOptions.CultureInvariant | RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex BirthCueAt();

    [GeneratedRegex("""
        ^(?:\d{4}-\d{1,2}-\d{1,2}
          |\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})
          |\d{1,2}\.?\s(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)[a-zé]*\.?(?:\sde)?\s\d{4}
          |(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s\d{1,2}(?:st|nd|rd|th)?,?\s\d{4})
        (?!\d)
        """, RegexOptions.CultureInvariant | RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex DateAtStart();
}
