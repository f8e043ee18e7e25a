using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Gateway.Load.Harness;

/// <summary>A process the harness started, pinned to one core; stopped (by its PID) on dispose.</summary>
public sealed class PinnedProcess : IDisposable
{
    private readonly Process process;

    private readonly string logPath;

    private PinnedProcess(Process process, string logPath)
    {
        this.process = process;
        this.logPath = logPath;
    }

    public int Pid => process.Id;

    public static PinnedProcess Start(int core, string logPath, params string[] command) => Start(core, logPath, new Dictionary<string, string>(), command);

    public static PinnedProcess Start(int core, string logPath, IReadOnlyDictionary<string, string> environment, params string[] command)
    {
        var start = new ProcessStartInfo("taskset") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        foreach (var argument in (string[])["-c", core.ToString(CultureInfo.InvariantCulture), .. command])
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {command[0]}");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new PinnedProcess(process, logPath);
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit(10_000);
        }
        process.Dispose();
    }

    /// <summary>Waits until the process accepts connections on the port; fails at once if it exits.</summary>
    public async Task WaitForPortAsync(int port, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the process exited with {process.ExitCode}: {File.ReadAllText(logPath)}");
            }
            try
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < timeout)
            {
                await Task.Delay(100);
            }
        }
    }
}

/// <summary>What /proc says about a process: CPU time, memory, threads and sockets.</summary>
public static class ProcStats
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static TimeSpan CpuTime(IEnumerable<int> pids) => TimeSpan.FromSeconds(pids.Sum(pid =>
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }));

    public static long StatusKilobytes(int pid, string field) => long.Parse(Status(pid, field).Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);

    public static int Threads(int pid) => int.Parse(Status(pid, "Threads"), CultureInfo.InvariantCulture);

    public static int Sockets(int pid) => Directory.EnumerateFiles($"/proc/{pid}/fd").Count(fd =>
    {
        try
        {
            return new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true;
        }
        catch (IOException)
        {
            return false; // closed while we looked
        }
    });

    private static string Status(int pid, string field) => File.ReadLines($"/proc/{pid}/status")
        .First(line => line.StartsWith(field + ":", StringComparison.Ordinal))[(field.Length + 1)..].Trim();
}
