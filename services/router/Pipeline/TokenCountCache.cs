using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Gateway.Router.Pipeline;

// Token counts of texts already seen, so a system prompt or a conversation's history that every request repeats
// is tokenized once. Keyed by SHA-256 of the text (its UTF-16 code units, truncated to 128 bits) and the encoding:
// no text is kept, and a client cannot make a different text hit a known one's count (that would need a
// SHA-256 collision). Bounded: at most `capacity` entries, evicted by the clock algorithm (an entry hit since the
// hand last passed gets another round), so a stream of unique texts cannot grow it.
internal sealed class TokenCountCache(int capacity)
{
    // Shorter texts tokenize about as fast as they hash.
    public const int MinLength = 64;

    private readonly ConcurrentDictionary<Key, Entry> _entries = new();
    private readonly Entry?[] _slots = new Entry?[capacity];
    private readonly Lock _gate = new();
    private int _hand;

    public int Count => _entries.Count;

    public int Capacity => _slots.Length;

    public int CountTokens(Func<string, int> count, int encoding, string text)
    {
        if (text.Length < MinLength)
        {
            return count(text);
        }
        var key = Key.Of(encoding, text);
        if (_entries.TryGetValue(key, out var entry))
        {
            entry.Referenced = true;
            return entry.Tokens;
        }
        var tokens = count(text);
        Add(key, tokens);
        return tokens;
    }

    // Misses already paid for a tokenizer run, so taking a lock here costs little; hits never lock.
    private void Add(Key key, int tokens)
    {
        lock (_gate)
        {
            if (_entries.ContainsKey(key))
            {
                return;
            }
            while (_slots[_hand] is { } occupant)
            {
                if (occupant.Referenced)
                {
                    occupant.Referenced = false;
                    _hand = (_hand + 1) % _slots.Length;
                    continue;
                }
                _entries.TryRemove(occupant.Key, out _);
                break;
            }
            var entry = new Entry(key, tokens);
            _slots[_hand] = entry;
            _hand = (_hand + 1) % _slots.Length;
            _entries[key] = entry;
        }
    }

    private sealed class Entry(Key key, int tokens)
    {
        public Key Key { get; } = key;

        public int Tokens { get; } = tokens;

        public volatile bool Referenced;
    }

    private readonly record struct Key(ulong High, ulong Low, int Encoding)
    {
        public static Key Of(int encoding, string text)
        {
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(MemoryMarshal.AsBytes(text.AsSpan()), hash);
            var halves = MemoryMarshal.Cast<byte, ulong>(hash);
            return new Key(halves[0], halves[1], encoding);
        }

        public override int GetHashCode() => (int)Low ^ Encoding;
    }
}
