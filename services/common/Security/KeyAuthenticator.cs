using System.Security.Cryptography;
using Gateway.Common.Configuration;
using Gateway.Contracts.Common.V1;

namespace Gateway.Common.Security;

// Maps a presented gateway key to its principal. Only SHA-256 hashes are held. The table is found by
// hash (which reveals nothing about a stored key), then confirmed with a constant-time comparison.
public sealed class KeyAuthenticator(ConfigMonitor config)
{
    // Longer presented keys are refused without hashing them.
    public const int MaximumKeyLength = 512;

    private sealed record Entry(byte[] Hash, Principal Principal);

    private sealed record Table(GatewayConfig Source, Dictionary<string, Entry> ByHash);

    private volatile Table? _table;

    public Principal? Authenticate(ReadOnlySpan<char> presentedKey)
    {
        if (presentedKey.IsEmpty || presentedKey.Length > MaximumKeyLength)
        {
            return null;
        }
        var table = CurrentTable();
        Span<byte> hash = stackalloc byte[32];
        ApiKeyHasher.Hash(presentedKey, hash);
        Span<char> hex = stackalloc char[64];
        Convert.TryToHexStringLower(hash, hex, out _);
        var lookup = table.ByHash.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(hex, out var entry) && CryptographicOperations.FixedTimeEquals(entry.Hash, hash))
        {
            return entry.Principal;
        }
        return null;
    }

    private Table CurrentTable()
    {
        var current = config.Current;
        var table = _table;
        if (table is not null && ReferenceEquals(table.Source, current))
        {
            return table;
        }
        var byHash = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var key in current.Keys)
        {
            var hex = (key.Sha256 ?? ApiKeyHasher.HashHex(key.Key!)).ToLowerInvariant();
            var principal = new Principal
            {
                KeyName = key.Name,
                Team = key.Team ?? "",
                Project = key.Project ?? "",
                Environment = key.Environment ?? "",
                User = key.User ?? "",
            };
            principal.Roles.AddRange(key.Roles);
            principal.AllowedModels.AddRange(key.Models);
            byHash[hex] = new Entry(Convert.FromHexString(hex), principal);
        }
        table = new Table(current, byHash);
        _table = table;
        return table;
    }
}
