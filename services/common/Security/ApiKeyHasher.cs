using System.Security.Cryptography;
using System.Text;

namespace Gateway.Common.Security;

public static class ApiKeyHasher
{
    public const string KeyPrefix = "gw-";

    public static string HashHex(string key)
    {
        Span<byte> hash = stackalloc byte[32];
        Hash(key, hash);
        return Convert.ToHexStringLower(hash);
    }

    public static void Hash(ReadOnlySpan<char> key, Span<byte> destination)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(key.Length);
        var rented = maxBytes <= 512 ? null : System.Buffers.ArrayPool<byte>.Shared.Rent(maxBytes);
        Span<byte> utf8 = rented ?? stackalloc byte[512];
        try
        {
            var written = Encoding.UTF8.GetBytes(key, utf8);
            SHA256.HashData(utf8[..written], destination);
        }
        finally
        {
            if (rented is not null)
            {
                CryptographicOperations.ZeroMemory(rented);
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public static bool IsHexSha256(string value) => value.Length == 64 && value.All(char.IsAsciiHexDigit);

    // 32 random bytes, URL-safe: `gw-` + 43 characters.
    public static string NewKey()
    {
        Span<byte> bytes = stackalloc byte[32];
        RandomNumberGenerator.Fill(bytes);
        return KeyPrefix + Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }
}
