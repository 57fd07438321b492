using System.Threading.Channels;

namespace StreamMtl.Ingest.Frames;

/// <summary>
/// A bounded hand-off from one reader to one consumer that keeps only the newest frames: a full slot drops (and
/// disposes, and counts) its oldest frame, so a slow pipeline never makes the reader fall behind the camera.
/// </summary>
public sealed class LatestFrameSlot : IDisposable
{
    private readonly Channel<Frame> _channel;
    private long _dropped;

    public LatestFrameSlot(int capacity = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _channel = Channel.CreateBounded<Frame>(
            new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
                SingleWriter = true,
            },
            OnDropped);
    }

    /// <summary>Where the consumer takes frames from; it owns and disposes each frame it reads.</summary>
    public ChannelReader<Frame> Reader => _channel.Reader;

    /// <summary>Frames replaced by newer ones before the consumer took them.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Hands a frame over; after <see cref="Complete"/> the frame is disposed and counted as dropped.</summary>
    public void Publish(Frame frame)
    {
        if (!_channel.Writer.TryWrite(frame))
        {
            OnDropped(frame);
        }
    }

    /// <summary>Tells the consumer no more frames will come.</summary>
    public void Complete(Exception? error = null) => _channel.Writer.TryComplete(error);

    /// <summary>Completes the slot and disposes frames nobody took.</summary>
    public void Dispose()
    {
        Complete();
        while (_channel.Reader.TryRead(out var frame))
        {
            frame.Dispose();
        }
    }

    private void OnDropped(Frame frame)
    {
        frame.Dispose();
        Interlocked.Increment(ref _dropped);
    }
}
