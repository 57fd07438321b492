using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Sources;
using StreamMtl.Server.Configuration;

namespace StreamMtl.Server.Security;

/// <summary>
/// Decides whether a client may open a source URI: the scheme must be allowed, network hosts must be listed,
/// and files/devices must resolve (symlinks followed) below an allowed directory. Returns the reason when not.
/// </summary>
public sealed class SourcePolicy(SecurityOptions options)
{
    public string? Check(string uri)
    {
        if (string.IsNullOrWhiteSpace(uri))
        {
            return "source URI is empty";
        }
        uri = uri.Trim();
        int hash = uri.IndexOf('#');
        string target = hash >= 0 ? uri[..hash] : uri;
        int schemeEnd = target.IndexOf("://", StringComparison.Ordinal);
        string scheme = schemeEnd < 0 ? (target.StartsWith("/dev/video", StringComparison.Ordinal) ? "v4l2" : "file") : target[..schemeEnd].ToLowerInvariant();
        if (!options.EffectiveSchemes.Contains(scheme, StringComparer.OrdinalIgnoreCase))
        {
            return $"scheme '{scheme}' is not allowed (allowed: {string.Join(", ", options.EffectiveSchemes)})";
        }
        if (scheme == "synthetic")
        {
            return null;
        }
        if (FrameSourceFactory.NetworkSchemes.Contains(scheme))
        {
            if (!Uri.TryCreate(target, UriKind.Absolute, out var parsed) || string.IsNullOrEmpty(parsed.Host))
            {
                return $"malformed network URI: {UriRedactor.Redact(uri)}";
            }
            return HostAllowed(parsed.IdnHost) ? null : $"host '{parsed.Host}' is not in the allowed hosts";
        }
        string path;
        if (schemeEnd < 0)
        {
            path = target;
        }
        else if (Uri.TryCreate(target, UriKind.Absolute, out var fileUri) && fileUri.Host.Length == 0)
        {
            path = Uri.UnescapeDataString(fileUri.AbsolutePath);
        }
        else
        {
            return $"malformed {scheme} URI: {UriRedactor.Redact(uri)}";
        }
        return PathAllowed(path) ? null : $"path '{path}' is not below an allowed directory";
    }

    private bool HostAllowed(string host) => options.AllowedHosts.Any(pattern =>
        pattern == "*"
        || string.Equals(pattern, host, StringComparison.OrdinalIgnoreCase)
        || (pattern.StartsWith("*.", StringComparison.Ordinal) && host.EndsWith(pattern[1..], StringComparison.OrdinalIgnoreCase)));

    private bool PathAllowed(string path)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            return false;
        }
        string full = Resolve(Path.GetFullPath(path));
        return options.AllowedDirectories.Any(dir =>
        {
            string root = Resolve(Path.GetFullPath(dir)).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
            return full.StartsWith(root, StringComparison.Ordinal);
        });
    }

    // A symlink inside an allowed directory must not lead outside it.
    private static string Resolve(string path)
    {
        try
        {
            var info = new FileInfo(path);
            var target = info.Exists || Directory.Exists(path) ? info.ResolveLinkTarget(returnFinalTarget: true) : null;
            string resolved = target?.FullName ?? path;
            string? parent = Path.GetDirectoryName(resolved);
            if (parent != null && parent != resolved && Directory.Exists(parent))
            {
                var parentTarget = new DirectoryInfo(parent).ResolveLinkTarget(returnFinalTarget: true);
                if (parentTarget != null)
                {
                    resolved = Path.Combine(parentTarget.FullName, Path.GetFileName(resolved));
                }
            }
            return resolved;
        }
        catch (IOException)
        {
            return path;
        }
    }
}
