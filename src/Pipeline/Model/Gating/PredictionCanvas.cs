using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// The stream's last full-resolution outputs per task, updated patch by patch: heads and the finishing
/// steps (argmax, exp, normalise) are per pixel, so only recomputed tokens' 16x16 patches can change.
/// Finishing and copying out the whole frame costs about as much as a gated pass on a static scene, so
/// doing it for the changed patches only is where much of the wall-clock gain comes from.
/// </summary>
internal sealed class PredictionCanvas
{
    private readonly ModelConfig _config;
    private readonly Dictionary<VisionTask, Array> _maps = [];
    /// <summary>The copy of each map last handed out, while the map has not changed since (dropped when it does).</summary>
    private readonly Dictionary<VisionTask, Array> _copies = [];
    private int _width;
    private int _height;

    public PredictionCanvas(ModelConfig config)
    {
        _config = config;
    }

    /// <summary>Writes the recomputed tokens' patches and returns copies of the computed tasks' maps and of the
    /// <paramref name="held"/> tasks' last maps (not computed this frame: a reduced compute level). A map that did not change
    /// since the last frame (held, or no token of it recomputed) is returned as the same copy as then: the copies are never
    /// written after they are handed out, and a held depth and normals map (1.2 MB at 320x240, on the large-object heap) is
    /// not copied again on every frame of a stream at a reduced level.</summary>
    public Predictions Update(IReadOnlyDictionary<VisionTask, GatedHeadOutput> heads, int rows, int cols, TaskSet held = TaskSet.None)
    {
        int p = _config.Patch;
        if (_width != cols * p || _height != rows * p)
        {
            _maps.Clear();
            _copies.Clear();
            _width = cols * p;
            _height = rows * p;
        }
        foreach (var (task, head) in heads)
        {
            Write(task, head, rows, cols);
        }
        return new Predictions(_width, _height,
            Copy<byte>(heads, held, VisionTask.Segmentation), Copy<float>(heads, held, VisionTask.Depth), Copy<float>(heads, held, VisionTask.Normals));
    }

    public void Reset()
    {
        _maps.Clear();
        _copies.Clear();
    }

    private void Write(VisionTask task, GatedHeadOutput head, int rows, int cols)
    {
        int p = _config.Patch;
        int area = p * p;
        long n = (long)rows * cols;
        bool all = head.Changed.All || !_maps.ContainsKey(task);
        if (!all && head.Changed.Count == 0)
        {
            return;
        }
        _copies.Remove(task);
        var picked = all ? head.TokenOutputs : head.Fresh ?? head.TokenOutputs.index_select(0, head.Changed.Rows!);
        long k = picked.shape[0];
        long[] tokens = all ? [.. Enumerable.Range(0, (int)n).Select(i => (long)i)] : [.. Values<long>(head.Changed.Rows!)];
        int channels = task.Channels(_config.Classes);
        var perToken = picked.view(k, channels, area);
        // Read in place through a span over each tensor's memory: TorchSharp's element accessor and an array per task and
        // frame (on the large-object heap for segmentation's logits) cost ~0.3 ms a frame more.
        switch (task)
        {
            case VisionTask.Segmentation:
                Scatter(Map<byte>(task, 1), ArgmaxOverChannels(Values<float>(perToken.contiguous()), (int)k, channels, area), tokens, cols, 1);
                break;
            case VisionTask.Depth:
                Scatter(Map<float>(task, 1), Values<float>(perToken.clamp(Scalars.Of(-6), Scalars.Of(6)).exp().contiguous()), tokens, cols, 1);
                break;
            case VisionTask.Normals:
                var unit = TokenHead.UnitVectors(perToken).permute(0, 2, 1).contiguous();
                Scatter(Map<float>(task, 3), Values<float>(unit), tokens, cols, 3);
                break;
        }
    }

    /// <summary>
    /// The class of each pixel from token logits [k, C, area] (what argmax(1) gives, the first of equal maxima): libtorch
    /// reduces over a dimension that is not the innermost on a slow path (3 ms for 50 tokens of 7 classes, this 0.05 ms).
    /// </summary>
    internal static byte[] ArgmaxOverChannels(ReadOnlySpan<float> logits, int tokens, int channels, int area)
    {
        var classes = new byte[tokens * area];
        for (int t = 0; t < tokens; t++)
        {
            int first = t * channels * area;
            for (int i = 0; i < area; i++)
            {
                int best = 0;
                float max = logits[first + i];
                for (int c = 1; c < channels; c++)
                {
                    float v = logits[first + c * area + i];
                    if (v > max || (float.IsNaN(v) && !float.IsNaN(max)))
                    {
                        max = v;
                        best = c;
                    }
                }
                classes[t * area + i] = (byte)best;
            }
        }
        return classes;
    }

    /// <summary>The values of a contiguous CPU tensor, in place (valid while the tensor lives).</summary>
    private static ReadOnlySpan<T> Values<T>(Tensor contiguous) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(contiguous.bytes);

    /// <summary>Copies token patches (row-major p x p x depth each) into the image map.</summary>
    private void Scatter<T>(T[] map, ReadOnlySpan<T> patches, long[] tokens, int cols, int depth)
    {
        int p = _config.Patch;
        int rowLength = p * depth;
        for (int j = 0; j < tokens.Length; j++)
        {
            int r = (int)(tokens[j] / cols);
            int c = (int)(tokens[j] % cols);
            for (int py = 0; py < p; py++)
            {
                patches.Slice((j * p + py) * rowLength, rowLength).CopyTo(map.AsSpan((((r * p) + py) * _width + c * p) * depth, rowLength));
            }
        }
    }

    private T[] Map<T>(VisionTask task, int depth)
    {
        if (!_maps.TryGetValue(task, out var map))
        {
            map = new T[_width * _height * depth];
            _maps[task] = map;
        }
        return (T[])map;
    }

    private T[]? Copy<T>(IReadOnlyDictionary<VisionTask, GatedHeadOutput> heads, TaskSet held, VisionTask task)
    {
        if (!(heads.ContainsKey(task) || held.Contains(task)) || !_maps.TryGetValue(task, out var map))
        {
            return null;
        }
        if (!_copies.TryGetValue(task, out var copy))
        {
            copy = (T[])((T[])map).Clone();
            _copies[task] = copy;
        }
        return (T[])copy;
    }
}
