using System.Threading.Channels;

namespace StreamMtl.Server.Web;

/// <summary>
/// One browser connection's outgoing messages: bounded and drop-oldest, so a slow or stalled tab loses old frames
/// instead of holding results (or the pipeline, or other viewers) back; one writer drains it.
/// </summary>
public sealed class ViewerQueue
{
    private readonly Channel<Item> _items;
    private long _dropped;

    public ViewerQueue(int capacity)
    {
        _items = Channel.CreateBounded<Item>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
    }

    /// <summary>
    /// A message, made by <see cref="Message"/> when it is sent: UTF-8 JSON text (a notice) or a binary frame. What a frame
    /// may leave out (an output unchanged since the page's last) depends on the frames before it that were sent, not on
    /// those the queue dropped.
    /// </summary>
    public readonly record struct Item(Func<byte[]> Message, bool Text);

    /// <summary>Messages dropped because the viewer fell behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    public int Count => _items.Reader.Count;

    public void Offer(Item item) => _items.Writer.TryWrite(item);

    public void Complete() => _items.Writer.TryComplete();

    public IAsyncEnumerable<Item> ReadAllAsync(CancellationToken cancellationToken) => _items.Reader.ReadAllAsync(cancellationToken);
}
