using System.Runtime.InteropServices;

namespace StreamMtl.Pipeline.Inference;

/// <summary>
/// libtorch's OpenMP threads spin-wait between parallel regions by default (OMP_WAIT_POLICY=ACTIVE): with a CPU-bound
/// neighbour on the same cores (an ffmpeg decoder, the synthetic renderer, a training job) the spinning threads and the
/// neighbour preempt each other at every barrier and throughput collapses (4 synthetic cameras on 2 cores: 0.55 fps per
/// stream spinning, 1.5 passive). The process sets PASSIVE itself, before libtorch loads: GNU OpenMP reads its
/// environment once, when the library is loaded. An operator's own OMP_WAIT_POLICY is kept.
/// </summary>
public static partial class OpenMpPolicy
{
    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>True once <see cref="Apply"/> set the policy (the operator had not): child processes should not inherit it as if the operator had.</summary>
    public static bool SetByProcess { get; private set; }

    /// <summary>Sets OMP_WAIT_POLICY=PASSIVE in the native environment unless it is set; call before the first TorchSharp call. Returns the policy in force.</summary>
    public static string Apply()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } set)
        {
            return set;
        }
        // .NET keeps its own copy of the environment on Unix: native libraries read the C library's, so setenv it there too.
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            if (SetEnv(Variable, "PASSIVE", 1) != 0)
            {
                return "ACTIVE";
            }
        }
        Environment.SetEnvironmentVariable(Variable, "PASSIVE");
        SetByProcess = true;
        return "PASSIVE";
    }

    /// <summary>The policy the C library's environment holds now (what OpenMP reads), or null when unset.</summary>
    public static string? Native() => Marshal.PtrToStringUTF8(GetEnv(Variable));

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr GetEnv(string name);
}
