namespace Gateway.Common;

// Time-ordered unique ids in the UUID version 7 layout (RFC 9562), as 32 lowercase hex characters like
// Guid.ToString("N"). Guid.CreateVersion7 asks the kernel for its random bits on every call (a system call per
// id, two per request); these come from Random.Shared, seeded once from the system: 74 random bits behind the
// millisecond, as the RFC lays out. They identify; they are not secrets (nothing is granted by knowing one).
public static class Ids
{
    public static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        var ms = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 5; i >= 0; i--)
        {
            bytes[i] = (byte)ms;
            ms >>= 8;
        }
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F)); // version 7
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F)); // RFC variant
        return Convert.ToHexStringLower(bytes);
    }
}
