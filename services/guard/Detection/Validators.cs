using System.Buffers;
using System.Security.Cryptography;

namespace Gateway.Guard.Detection;

// Checksums and ranges that turn a pattern match into a finding: Luhn, IBAN mod-97, SSN ranges,
// Base58Check, Bech32, EIP-55, and Shannon entropy for generic secrets. Span-based, no allocations on the hot path.
internal static class Validators
{
    public static bool Luhn(ReadOnlySpan<char> digits)
    {
        var sum = 0;
        var doubleIt = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            var d = digits[i] - '0';
            if (doubleIt)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }
            sum += d;
            doubleIt = !doubleIt;
        }
        return sum % 10 == 0;
    }

    // Issuer prefixes and lengths (ISO/IEC 7812 ranges as the networks publish them).
    public static bool CardNetwork(ReadOnlySpan<char> d)
    {
        var n = d.Length;
        if (d[0] == '4')
        {
            return n is 13 or 16 or 19; // Visa
        }
        var p2 = Prefix(d, 2);
        var p4 = Prefix(d, 4);
        var p3 = Prefix(d, 3);
        var p6 = Prefix(d, 6);
        return (p2 is >= 51 and <= 55 && n == 16)                        // Mastercard
            || (p4 is >= 2221 and <= 2720 && n == 16)                    // Mastercard 2-series
            || (p2 is 34 or 37 && n == 15)                               // American Express
            || ((p4 == 6011 || p2 == 65 || p3 is >= 644 and <= 649 || p6 is >= 622126 and <= 622925) && n is >= 16 and <= 19) // Discover
            || ((p3 is >= 300 and <= 305 || p2 is 36 or 38 or 39) && n is >= 14 and <= 19) // Diners Club
            || (p4 is >= 3528 and <= 3589 && n is >= 16 and <= 19)       // JCB
            || (p2 == 62 && n is >= 16 and <= 19)                        // UnionPay
            || (p2 is 50 or (>= 56 and <= 69) && n is >= 12 and <= 19)   // Maestro
            || (p4 is >= 2200 and <= 2204 && n == 16);                   // Mir
    }

    private static int Prefix(ReadOnlySpan<char> digits, int count)
    {
        var value = 0;
        for (var i = 0; i < count; i++)
        {
            value = value * 10 + (digits[i] - '0');
        }
        return value;
    }

    public static bool UsSsn(int area, int group, int serial)
        => area is > 0 and not 666 and < 900 && group > 0 && serial > 0
           // Numbers published in advertising and never issued.
           && !(area == 78 && group == 5 && serial == 1120) && !(area == 219 && group == 9 && serial == 9999)
           && !(area == 123 && group == 45 && serial == 6789);

    private static readonly Dictionary<string, int> IbanLengths = new(StringComparer.Ordinal)
    {
        ["AD"] = 24, ["AE"] = 23, ["AL"] = 28, ["AT"] = 20, ["AZ"] = 28, ["BA"] = 20, ["BE"] = 16, ["BG"] = 22, ["BH"] = 22, ["BR"] = 29,
        ["BY"] = 28, ["CH"] = 21, ["CR"] = 22, ["CY"] = 28, ["CZ"] = 24, ["DE"] = 22, ["DK"] = 18, ["DO"] = 28, ["EE"] = 20, ["EG"] = 29,
        ["ES"] = 24, ["FI"] = 18, ["FO"] = 18, ["FR"] = 27, ["GB"] = 22, ["GE"] = 22, ["GI"] = 23, ["GL"] = 18, ["GR"] = 27, ["GT"] = 28,
        ["HR"] = 21, ["HU"] = 28, ["IE"] = 22, ["IL"] = 23, ["IQ"] = 23, ["IS"] = 26, ["IT"] = 27, ["JO"] = 30, ["KW"] = 30, ["KZ"] = 20,
        ["LB"] = 28, ["LC"] = 32, ["LI"] = 21, ["LT"] = 20, ["LU"] = 20, ["LV"] = 21, ["MC"] = 27, ["MD"] = 24, ["ME"] = 22, ["MK"] = 19,
        ["MR"] = 27, ["MT"] = 31, ["MU"] = 30, ["NL"] = 18, ["NO"] = 15, ["PK"] = 24, ["PL"] = 28, ["PS"] = 29, ["PT"] = 25, ["QA"] = 29,
        ["RO"] = 24, ["RS"] = 22, ["SA"] = 24, ["SC"] = 31, ["SE"] = 24, ["SI"] = 19, ["SK"] = 24, ["SM"] = 27, ["ST"] = 25, ["SV"] = 28,
        ["TL"] = 23, ["TN"] = 24, ["TR"] = 26, ["UA"] = 29, ["VA"] = 22, ["VG"] = 24, ["XK"] = 20,
    };

    private static readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> IbanLookup = IbanLengths.GetAlternateLookup<ReadOnlySpan<char>>();

    public static int IbanLength(ReadOnlySpan<char> country) => IbanLookup.TryGetValue(country, out var length) ? length : 0;

    // ISO 13616: move the first four characters to the end, letters to numbers (A=10), remainder mod 97 == 1.
    public static bool IbanChecksum(ReadOnlySpan<char> iban)
    {
        var remainder = 0;
        for (var i = 0; i < iban.Length; i++)
        {
            var c = iban[(i + 4) % iban.Length];
            if (char.IsAsciiDigit(c))
            {
                remainder = (remainder * 10 + (c - '0')) % 97;
            }
            else if (char.IsAsciiLetterUpper(c))
            {
                remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
            }
            else
            {
                return false;
            }
        }
        return remainder == 1;
    }

    private const string Base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    // A Bitcoin P2PKH/P2SH address: 25 bytes, the last 4 the first 4 of SHA256(SHA256(first 21)).
    public static bool Base58Check(ReadOnlySpan<char> address)
    {
        Span<byte> bytes = stackalloc byte[25];
        bytes.Clear();
        foreach (var c in address)
        {
            var value = Base58Alphabet.IndexOf(c);
            if (value < 0)
            {
                return false;
            }
            var carry = value;
            for (var i = 24; i >= 0; i--)
            {
                carry += 58 * bytes[i];
                bytes[i] = (byte)carry;
                carry >>= 8;
            }
            if (carry != 0)
            {
                return false;
            }
        }
        if (bytes[0] is not (0x00 or 0x05))
        {
            return false;
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes[..21], hash);
        SHA256.HashData(hash, hash);
        return hash[..4].SequenceEqual(bytes[21..]);
    }

    private const string Bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    // BIP-173 / BIP-350: polymod over hrp and data equals 1 (bech32) or 0x2bc830a3 (bech32m).
    public static bool Bech32(ReadOnlySpan<char> address)
    {
        var separator = address.LastIndexOf('1');
        if (separator < 1 || address.Length - separator < 7 || address.Length > 90)
        {
            return false;
        }
        var lower = address.ContainsAnyInRange('a', 'z');
        var upper = address.ContainsAnyInRange('A', 'Z');
        if (lower && upper)
        {
            return false;
        }
        uint chk = 1;
        var hrp = address[..separator];
        foreach (var c in hrp)
        {
            chk = Polymod(chk) ^ (uint)(char.ToLowerInvariant(c) >> 5);
        }
        chk = Polymod(chk);
        foreach (var c in hrp)
        {
            chk = Polymod(chk) ^ (uint)(char.ToLowerInvariant(c) & 31);
        }
        foreach (var c in address[(separator + 1)..])
        {
            var value = Bech32Charset.IndexOf(char.ToLowerInvariant(c));
            if (value < 0)
            {
                return false;
            }
            chk = Polymod(chk) ^ (uint)value;
        }
        return chk is 1 or 0x2bc830a3;
    }

    private static uint Polymod(uint chk)
    {
        var top = chk >> 25;
        chk = (chk & 0x1ffffff) << 5;
        if ((top & 1) != 0) chk ^= 0x3b6a57b2;
        if ((top & 2) != 0) chk ^= 0x26508e6d;
        if ((top & 4) != 0) chk ^= 0x1ea119fa;
        if ((top & 8) != 0) chk ^= 0x3d4233dd;
        if ((top & 16) != 0) chk ^= 0x2a1462b3;
        return chk;
    }

    // EIP-55 for a 40-digit hex Ethereum address: all lower or all upper case carries no checksum; in mixed
    // case, a letter is upper case exactly when the matching nibble of Keccak-256(lower-case address) is >= 8.
    public static bool Eip55(ReadOnlySpan<char> hex)
    {
        if (!hex.ContainsAnyInRange('a', 'f') || !hex.ContainsAnyInRange('A', 'F'))
        {
            return true;
        }
        Span<byte> ascii = stackalloc byte[hex.Length];
        for (var i = 0; i < hex.Length; i++)
        {
            ascii[i] = (byte)(hex[i] | 0x20);
        }
        Span<byte> hash = stackalloc byte[32];
        Keccak.Hash256(ascii, hash);
        for (var i = 0; i < hex.Length; i++)
        {
            if (char.IsAsciiLetter(hex[i]))
            {
                var nibble = (i & 1) == 0 ? hash[i / 2] >> 4 : hash[i / 2] & 0xF;
                if ((nibble >= 8) != char.IsAsciiLetterUpper(hex[i]))
                {
                    return false;
                }
            }
        }
        return true;
    }

    // Shannon entropy in bits per character (ASCII; anything else counts in one bucket).
    public static double Entropy(ReadOnlySpan<char> value)
    {
        Span<int> counts = stackalloc int[128];
        counts.Clear();
        foreach (var c in value)
        {
            counts[c < 128 ? c : 127]++;
        }
        double entropy = 0;
        foreach (var count in counts)
        {
            if (count > 0)
            {
                var p = (double)count / value.Length;
                entropy -= p * Math.Log2(p);
            }
        }
        return entropy;
    }

    public static int CharacterClasses(ReadOnlySpan<char> value)
    {
        var classes = 0;
        if (value.ContainsAnyInRange('a', 'z')) classes++;
        if (value.ContainsAnyInRange('A', 'Z')) classes++;
        if (value.ContainsAnyInRange('0', '9')) classes++;
        if (value.IndexOfAnyExcept(AlphaNumeric) >= 0) classes++;
        return classes;
    }

    private static readonly SearchValues<char> AlphaNumeric = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
}
