using System.Text.RegularExpressions;

namespace Gateway.Guard.Detection;

// Person names, by two cheap methods (no NLP model), at the places TextAnchors found:
//  1. Context cues: an honorific (Mr, Mrs, Dr, Herr, Frau, Mme, Sr., ...) or a phrase that introduces a name
//     (my name is, patient, customer, signed, regards, ich heiße, je m'appelle, me llamo, ...) followed by one
//     to three capitalised words.
//  2. A list of common given names (English, German, French, Spanish, Italian, Dutch, Indian, Chinese and
//     Arabic romanisations) followed by a capitalised word: "Maria Schmidt", "Rahul Sharma".
// Limits: a name with no cue and an unlisted given name is missed ("Zebulon Quist"); a surname alone is missed;
// lower-case names are missed; names in scripts without capitals (中文, العربية) are missed; a capitalised
// word after a cue that is not a name ("Dear Team") is filtered only by a small stop list.
internal static partial class PersonDetector
{
    private static readonly HashSet<string> GivenNames = new(
        """
        James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew Anthony Mark Donald Steven
        Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan
        Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry Tyler Aaron
        Jose Adam Nathan Henry Peter Zachary Douglas Harold Kyle Noah Ethan Liam Oliver Lucas Mason Logan Elijah Aiden Owen
        Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Margaret Sandra Ashley Kimberly
        Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela
        Shirley Anna Brenda Pamela Emma Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine Maria
        Heather Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan Evelyn Judith Megan Andrea Cheryl
        Hannah Jacqueline Martha Gloria Teresa Ann Sara Madison Frances Kathryn Janice Jean Abigail Alice Judy Sophia Grace
        Denise Amber Doris Marilyn Danielle Beverly Isabella Theresa Diana Natalie Brittany Charlotte Marie Kayla Alexis Lori
        Alex Sam Chris Jordan Taylor Morgan Casey Jamie Robin Lee Ben Tom Tim Jim Bob Bill Mike Dave Steve Tony Joe Jane Kate Sue
        Hans Klaus Jürgen Wolfgang Stefan Andreas Michaela Thomas Uwe Dieter Günter Helmut Sabine Ursula Petra Monika Claudia
        Katrin Anja Jens Lukas Leon Finn Felix Jonas Maximilian Paul Lena Lea Hanna Mia Sophie Johanna Anke Birgit Heike Frank
        Jean Pierre Michel Philippe Alain Nicolas Christophe François Laurent Julien Sébastien Camille Chloé Manon Inès Léa
        Isabelle Nathalie Sylvie Céline Amélie Aurélie Thierry Olivier Antoine Mathieu Guillaume Hélène Élodie Margaux
        José Juan Carlos Luis Javier Miguel Pedro Alejandro Manuel Francisco Antonio Jorge Pablo Diego Sergio Fernando Raúl
        Carmen Lucía Laura Marta Elena Paula Sofía Isabel Pilar Rosa Ana Cristina Beatriz Alba Valentina Camila Gabriela
        Giuseppe Giovanni Marco Luca Matteo Alessandro Francesco Andrea Lorenzo Davide Giulia Chiara Francesca Federica
        Jan Pieter Daan Sem Bram Sanne Femke Lotte Eva Anouk Joost Ruud Henk Wim Kees
        Rahul Amit Priya Anjali Vikram Arjun Deepak Sunil Ravi Sanjay Neha Pooja Aditya Rohan Kavya Ananya Suresh Ramesh Vijay
        Wei Li Ming Jing Hui Xin Yan Lei Jun Hao Yi Mei Ling Chen Yang Zhang Feng
        Mohammed Muhammad Ahmed Ali Omar Hassan Hussein Fatima Aisha Layla Yusuf Ibrahim Khalid Mustafa Noor Zainab Karim Tariq
        Olga Ivan Dmitri Sergei Natasha Anastasia Svetlana Igor Vladimir Mikhail Tatiana Yuki Hiroshi Kenji Sakura Haruto Aiko
        """.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries),
        StringComparer.Ordinal);

    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> GivenNameLookup = GivenNames.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly HashSet<string> StopWords = new(
        """
        The This That These Those Team Support All Sir Madam Customer Customers Service Admin Everyone Colleagues Friends
        Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August September
        October November December Street Road Avenue Inc Ltd GmbH Corp Company Bank Hospital University Please Thanks Thank
        Regards Best Kind Hi Hello Dear Yes No Not And Or But For With From To In On At Of Is Are Was Were Be Been Here There
        Order Invoice Account Ticket Number Name Date Phone Email Address Status Error Warning Info Debug Note Total Amount
        World Happy Sorry Sure Good Great Fine Ok Okay Going Looking Working Trying Glad Available Writing Calling Still Also Just
        """.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries),
        StringComparer.Ordinal);

    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> StopLookup = StopWords.GetAlternateLookup<ReadOnlySpan<char>>();

    // The first word of every cue of CuePatternAt (whole words, case-insensitive).
    internal static readonly string[] CueWords =
        ["mr", "mrs", "ms", "mx", "miss", "dr", "prof", "herr", "frau", "sr", "sra", "srta", "mme", "mlle", "dott", "sig",
         "my", "name", "i", "patient", "customer", "client", "contact", "employee", "applicant", "signed", "regards", "thanks",
         "thank", "cheers", "sincerely", "best", "dear", "hi", "hello", "ich", "mein", "je", "me", "mi", "soy", "sono"];

    internal static bool IsGivenName(ReadOnlySpan<char> word) => GivenNameLookup.Contains(word);

    // Cues and given names were found by TextAnchors' pass; the cue pattern runs only where a cue word starts.
    public static void Scan(ReadOnlySpan<char> text, TextAnchors anchors, List<EntityMatch> found)
    {
        var taken = 0;
        foreach (var at in anchors.PersonCues.Span)
        {
            if (at < taken || !CapitalFollows(text, at) || PiiScanner.MatchAt(CuePatternAt(), text, at) is not (> 0 and var length))
            {
                continue;
            }
            // After the cue: one to three capitalised words.
            var start = taken = at + length;
            var end = NameEnd(text, start, maxWords: 3, out var words);
            if (words > 0)
            {
                Add(text, start, end - start, found, requireGivenName: false);
            }
        }
        foreach (var at in anchors.GivenNames.Span)
        {
            // Extend over the capitalised words that follow: "Maria", then " Schmidt", " O'Brien".
            var end = NameEnd(text, at, maxWords: 3, out var words);
            if (words >= 2)
            {
                Add(text, at, end - at, found, requireGivenName: true);
            }
        }
    }

    // Every cue is at most 16 characters and ends in whitespace before a capital: without one in reach, the
    // cue pattern cannot match.
    private static bool CapitalFollows(ReadOnlySpan<char> text, int at)
    {
        var end = Math.Min(text.Length, at + 20);
        for (var i = at + 1; i < end; i++)
        {
            if (char.IsUpper(text[i]) && char.IsWhiteSpace(text[i - 1]))
            {
                return true;
            }
        }
        return false;
    }

    // The end of up to `maxWords` capitalised words from `start` (a name: "Ana", "O'Brien", "Jean-Luc").
    private static int NameEnd(ReadOnlySpan<char> text, int start, int maxWords, out int words)
    {
        words = 0;
        var end = start;
        var at = start;
        while (words < maxWords && at < text.Length && char.IsUpper(text[at]))
        {
            var next = at + 1;
            while (next < text.Length && (char.IsLower(text[next]) || text[next] is '\'' or '’' or '-' || (char.IsUpper(text[next]) && text[next - 1] is '\'' or '’' or '-')))
            {
                next++;
            }
            if (next - at < 2)
            {
                break;
            }
            end = next;
            words++;
            if (next + 1 >= text.Length || text[next] != ' ')
            {
                break;
            }
            at = next + 1;
        }
        return end;
    }

    private static void Add(ReadOnlySpan<char> text, int index, int length, List<EntityMatch> found, bool requireGivenName)
    {
        var name = text.Slice(index, length);
        // Trim trailing stop words ("Maria Schmidt Thanks"); drop the match if the first word is one.
        var words = 0;
        var end = 0;
        foreach (var range in name.Split(' '))
        {
            var word = name[range];
            if (word.Length == 0)
            {
                continue;
            }
            if (StopLookup.Contains(word))
            {
                break;
            }
            if (words == 0 && requireGivenName && !GivenNameLookup.Contains(word))
            {
                return;
            }
            words++;
            end = range.End.Value;
        }
        if (words == 0 || (requireGivenName && words < 2))
        {
            return;
        }
        // A possessive is not part of the name: "Maria Schmidt's manager".
        if (end > 2 && name[end - 1] == 's' && name[end - 2] is '\'' or '’')
        {
            end -= 2;
        }
        found.Add(new(EntityTypes.Person, index, end));
    }

    [GeneratedRegex("""
        \G(?:\b(?:(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Herr|Frau|Sr|Sra|Srta|Mme|Mlle|Dott|Sig|Sig\.ra)\.?\ 
          |(?i:my\ name\ is|name\ is|i\ am|i'm|name\s?[:=]|patient|customer|client|contact|employee|applicant|
               signed|regards,|thanks,|thank\ you,|cheers,|sincerely,|best,|dear|hi|hello|
               ich\ heiße|ich\ bin|mein\ name\ ist|je\ m'appelle|je\ suis|me\ llamo|mi\ nombre\ es|soy|mi\ chiamo|sono)\s{1,3})
        (?=\p{Lu}))
        """, RegexOptions.CultureInvariant | RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex CuePatternAt();
}
