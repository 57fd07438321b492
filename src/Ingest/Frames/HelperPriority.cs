using System.Runtime.InteropServices;

namespace StreamMtl.Ingest.Frames;

/// <summary>
/// The scheduling priority of the work around inference: decoding, rendering and encoding run on thread-pool threads,
/// which take a higher nice value (a lower CPU share under contention) than the inference workers. On Linux a nice value
/// belongs to a thread, and an unprivileged process may raise it but not lower it again, so the inference threads are left
/// at the process's own value and each helper thread raises its own, once, when it first does such work.
/// </summary>
public static partial class HelperPriority
{
    [ThreadStatic] private static int t_applied;
    private static int s_nice;

    /// <summary>The nice value added to helper threads (0..19; 0 leaves them as they are). Set once at start-up.</summary>
    public static int Nice
    {
        get => Volatile.Read(ref s_nice);
        set => Volatile.Write(ref s_nice, value is >= 0 and <= 19 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "nice must be in 0..19"));
    }

    /// <summary>Lowers the calling thread's priority to <see cref="Nice"/>, once per thread; never raises it.</summary>
    public static void Apply()
    {
        int nice = Nice;
        if (nice == 0 || t_applied >= nice || !OperatingSystem.IsLinux())
        {
            return;
        }
        t_applied = nice;
        int tid = gettid();
        Marshal.SetLastPInvokeError(0);
        int current = getpriority(PrioProcess, tid);
        if (Marshal.GetLastPInvokeError() == 0 && current < nice)
        {
            _ = setpriority(PrioProcess, tid, nice);
        }
    }

    /// <summary>The calling thread's nice value (Linux): what threads it starts will begin at.</summary>
    public static int Current()
    {
        Marshal.SetLastPInvokeError(0);
        return getpriority(PrioProcess, gettid());
    }

    private const int PrioProcess = 0;

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int gettid();

    [LibraryImport("libc", EntryPoint = "getpriority", SetLastError = true)]
    private static partial int getpriority(int which, int who);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int setpriority(int which, int who, int prio);
}
