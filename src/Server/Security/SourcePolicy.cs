using System.Net;
using System.Net.Sockets;
using StreamMtl.Ingest.Network;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Sources;
using StreamMtl.Server.Configuration;

namespace StreamMtl.Server.Security;

/// <summary>
/// Decides whether a client may open a source URI: the scheme must be allowed, network hosts must be listed,
/// and files/devices must resolve (symlinks followed) below an allowed directory. Returns the reason when not.
/// As an <see cref="IEgressPolicy"/> it checks every connection an API source makes: a listed host (and port), and a name
/// that does not resolve to an internal address (loopback, private, link-local, ...) unless that address is listed itself.
/// </summary>
public sealed class SourcePolicy(SecurityOptions options) : IEgressPolicy
{
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(5);
    private readonly HostPattern[] _hosts = [.. options.AllowedHosts.Select(HostPattern.Parse)];

    /// <summary>The synchronous checks of a source URI (scheme, listed host and port, allowed directory); the reason when refused.</summary>
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
            var (host, port) = EgressTarget.Of(target)!.Value;
            return HostAllowed(host, port) ? null : $"host '{parsed.Host}' is not in the allowed hosts";
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

    /// <summary>
    /// <see cref="Check"/>, then for network URIs the address rule of <see cref="CheckAsync(string, int, CancellationToken)"/>
    /// (a name is resolved); the reason when refused.
    /// </summary>
    public async ValueTask<string?> CheckSourceAsync(string uri, CancellationToken cancellationToken)
    {
        if (Check(uri) is { } denied)
        {
            return denied;
        }
        var target = uri.Trim().Split('#')[0];
        var scheme = target[..Math.Max(0, target.IndexOf("://", StringComparison.Ordinal))];
        if (!FrameSourceFactory.NetworkSchemes.Contains(scheme) || EgressTarget.Of(target) is not { } endpoint)
        {
            return null;
        }
        var decision = await CheckAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
        // A camera name that does not resolve right now is not a reason to refuse the stream: the source retries it.
        return decision.IsTransient ? null : decision.Reason;
    }

    /// <summary>The egress rule: a listed host and port, then every address it resolves to public or listed itself.</summary>
    public async ValueTask<EgressDecision> CheckAsync(string host, int port, CancellationToken cancellationToken)
    {
        var named = $"{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}";
        if (!HostAllowed(host, port))
        {
            return EgressDecision.Refused($"host '{named}' is not in the allowed hosts");
        }
        IPAddress[] addresses;
        if (IPAddress.TryParse(host, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ResolveTimeout);
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                return EgressDecision.Refused($"host '{named}' could not be resolved", transient: true);
            }
        }
        foreach (var address in addresses)
        {
            if (InternalAddresses.Rule(address) is { } rule && !_hosts.Any(p => p.Matches(address.ToString(), port) && p.IsExact(address.ToString())))
            {
                return EgressDecision.Refused($"host '{named}' is {address}, a {rule} address, which is not in the allowed hosts itself");
            }
        }
        return addresses.Length == 0 ? EgressDecision.Refused($"host '{named}' could not be resolved", transient: true) : EgressDecision.Allowed(addresses);
    }

    private bool HostAllowed(string host, int port) => _hosts.Any(p => p.Matches(host, port));

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
