// Build-time ELF patch for libLibTorchSharp.so (see TorchSharpGlibcxx.targets for why).
// Compiled by MSBuild's RoslynCodeTaskFactory, and also by the Pipeline tests (with
// STREAMMTL_ELF_ONLY defined) so the patch logic itself is tested.
#nullable enable
using System;
using System.IO;
using System.Text;

#if !STREAMMTL_ELF_ONLY
public class StreamMtlWeakenGlibcxxNeed : Microsoft.Build.Utilities.Task
{
    public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

    public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        string? system = ElfVersionNeeds.FindSystemLibStdCxx();
        if (system == null)
        {
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "No system libstdc++.so.6 found; libLibTorchSharp.so left as is.");
            return true;
        }
        if (ElfVersionNeeds.FileDefinesVersion(system, VersionName))
        {
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, $"{system} provides {VersionName}; no patch needed.");
            return true;
        }
        foreach (var item in Files)
        {
            string path = item.GetMetadata("FullPath");
            string outcome = ElfVersionNeeds.MarkNeedWeak(path, VersionName);
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal, $"{path}: {outcome}");
        }
        return !Log.HasLoggedErrors;
    }
}
#endif

/// <summary>Reads and edits the version-need table (.gnu.version_r) of a little-endian ELF64 file.</summary>
public static class ElfVersionNeeds
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    private static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    public static string? FindSystemLibStdCxx()
    {
        foreach (var candidate in LibStdCxxCandidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>True when the library's string tables contain the version name (a version definition).</summary>
    public static bool FileDefinesVersion(string path, string versionName)
    {
        byte[] data = File.ReadAllBytes(path);
        byte[] needle = Encoding.ASCII.GetBytes(versionName + "\0");
        return IndexOf(data, needle) >= 0;
    }

    /// <summary>Returns the vna_flags of the named version need, or -1 when the file has no such need.</summary>
    public static int ReadNeedFlags(string path, string versionName)
    {
        byte[] data = File.ReadAllBytes(path);
        int offset = FindVernauxFlagsOffset(data, versionName);
        return offset < 0 ? -1 : BitConverter.ToUInt16(data, offset);
    }

    /// <summary>Sets VER_FLG_WEAK on the named version need in place; returns what was done.</summary>
    public static string MarkNeedWeak(string path, string versionName)
    {
        byte[] data = File.ReadAllBytes(path);
        int offset = FindVernauxFlagsOffset(data, versionName);
        if (offset < 0)
        {
            return $"no {versionName} need; unchanged";
        }
        ushort flags = BitConverter.ToUInt16(data, offset);
        if ((flags & VerFlgWeak) != 0)
        {
            return $"{versionName} need already weak";
        }
        flags |= VerFlgWeak;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            stream.Position = offset;
            stream.WriteByte((byte)(flags & 0xff));
            stream.WriteByte((byte)(flags >> 8));
        }
        return $"{versionName} need marked weak";
    }

    private static int FindVernauxFlagsOffset(byte[] data, string versionName)
    {
        if (data.Length < 64 || data[0] != 0x7f || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F')
        {
            throw new InvalidDataException("not an ELF file");
        }
        if (data[4] != 2 || data[5] != 1)
        {
            throw new InvalidDataException("only little-endian ELF64 is supported");
        }
        long shoff = BitConverter.ToInt64(data, 0x28);
        int shentsize = BitConverter.ToUInt16(data, 0x3A);
        int shnum = BitConverter.ToUInt16(data, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(data, (int)sh + 4) != ShtGnuVerneed)
            {
                continue;
            }
            long verneedOffset = BitConverter.ToInt64(data, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(data, (int)sh + 0x28);
            int count = (int)BitConverter.ToUInt32(data, (int)sh + 0x2C);
            long strSh = shoff + (long)link * shentsize;
            long strOffset = BitConverter.ToInt64(data, (int)strSh + 0x18);

            long need = verneedOffset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(data, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(data, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    uint nameOffset = BitConverter.ToUInt32(data, (int)aux + 8);
                    if (ReadCString(data, strOffset + nameOffset) == versionName)
                    {
                        return (int)aux + 4;
                    }
                    aux += BitConverter.ToUInt32(data, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(data, (int)need + 12);
            }
        }
        return -1;
    }

    private static string ReadCString(byte[] data, long offset)
    {
        int end = (int)offset;
        while (end < data.Length && data[end] != 0)
        {
            end++;
        }
        return Encoding.ASCII.GetString(data, (int)offset, end - (int)offset);
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j])
            {
                j++;
            }
            if (j == needle.Length)
            {
                return i;
            }
        }
        return -1;
    }
}
