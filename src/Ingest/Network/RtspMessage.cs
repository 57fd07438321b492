using System.Globalization;
using System.Text;

namespace StreamMtl.Ingest.Network;

/// <summary>The parts of RTSP 1.0 framing the egress relay reads: message heads, their status and headers.</summary>
internal static class RtspMessage
{
    /// <summary>The status of a response head (<c>RTSP/1.0 302 Found</c>: 302); null for a request or a malformed line.</summary>
    public static int? StatusCode(string head)
    {
        if (!head.StartsWith("RTSP/", StringComparison.Ordinal))
        {
            return null;
        }
        var parts = head.Split(' ', 3);
        return parts.Length >= 2 && int.TryParse(parts[1].TrimEnd('\r', '\n'), NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? code : null;
    }

    /// <summary>The first value of header <paramref name="name"/> (case-insensitive), trimmed; null when absent.</summary>
    public static string? Header(string head, string name)
    {
        foreach (var line in head.Split("\r\n").Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }
        return null;
    }

    /// <summary>A buffered reader over one direction of an RTSP connection.</summary>
    public sealed class Reader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[8192];
        private int _start;
        private int _end;

        /// <summary>The next byte without consuming it; -1 at the end of the stream.</summary>
        public async ValueTask<int> PeekAsync(CancellationToken token)
        {
            if (_start == _end && !await FillAsync(token).ConfigureAwait(false))
            {
                return -1;
            }
            return _buffer[_start];
        }

        /// <summary>Reads up to and including the blank line; returns the head without it (Latin-1).</summary>
        /// <exception cref="InvalidDataException">The head is longer than <paramref name="max"/> bytes.</exception>
        /// <exception cref="EndOfStreamException">The stream ended inside the head.</exception>
        public async ValueTask<string> ReadHeadAsync(int max, CancellationToken token)
        {
            var head = new List<byte>();
            while (true)
            {
                if (_start == _end && !await FillAsync(token).ConfigureAwait(false))
                {
                    throw new EndOfStreamException("the connection ended inside an RTSP message head");
                }
                head.Add(_buffer[_start++]);
                int n = head.Count;
                if (n >= 4 && head[n - 4] == '\r' && head[n - 3] == '\n' && head[n - 2] == '\r' && head[n - 1] == '\n')
                {
                    return Encoding.Latin1.GetString([.. head.Take(n - 4)]);
                }
                if (n > max)
                {
                    throw new InvalidDataException($"RTSP message head over {max} bytes");
                }
            }
        }

        /// <summary>Fills <paramref name="destination"/> completely.</summary>
        /// <exception cref="EndOfStreamException">The stream ended first.</exception>
        public async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken token)
        {
            while (destination.Length > 0)
            {
                if (_start == _end && !await FillAsync(token).ConfigureAwait(false))
                {
                    throw new EndOfStreamException("the connection ended inside an RTSP message");
                }
                int n = Math.Min(destination.Length, _end - _start);
                _buffer.AsMemory(_start, n).CopyTo(destination);
                _start += n;
                destination = destination[n..];
            }
        }

        private async ValueTask<bool> FillAsync(CancellationToken token)
        {
            _start = 0;
            _end = await stream.ReadAsync(_buffer, token).ConfigureAwait(false);
            return _end > 0;
        }
    }
}
