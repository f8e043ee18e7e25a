using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Gateway.Contracts.Prompts.V1;

namespace Gateway.Prompts.Experiments;

// Sticky assignment: the arm is a pure function of the experiment id and the caller (user, session or key),
// so every replica puts the same caller in the same arm without shared state. SHA-256 spreads similar ids
// (user-1, user-2, …) evenly; the first 8 bytes pick a point in the total weight.
public static class ArmAssigner
{
    public static Arm Assign(Experiment experiment, string subject)
    {
        long total = 0;
        foreach (var arm in experiment.Arms)
        {
            total += arm.Weight;
        }
        var key = experiment.Id + "\n" + subject;
        Span<byte> utf8 = key.Length <= 256 ? stackalloc byte[key.Length * 3] : new byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(utf8[..length], hash);
        var point = (long)(BinaryPrimitives.ReadUInt64BigEndian(hash) % (ulong)total);
        foreach (var arm in experiment.Arms)
        {
            point -= arm.Weight;
            if (point < 0)
            {
                return arm;
            }
        }
        return experiment.Arms[^1];
    }

    // Which caller identity keeps someone on one arm, by the experiment's `sticky` setting; falls back to the
    // next coarser one when the request does not carry it (session -> user -> key).
    public static string Subject(Experiment experiment, ResolveRequest request)
    {
        var key = request.KeyName.Length > 0 ? request.KeyName : request.Subject;
        var user = request.User.Length > 0 ? request.User : key;
        return experiment.Sticky switch
        {
            "session" => request.Session.Length > 0 ? "session:" + request.Session : "user:" + user,
            "key" => "key:" + key,
            _ => "user:" + user,
        };
    }
}
