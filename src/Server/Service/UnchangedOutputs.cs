using Google.Protobuf;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using V1 = StreamMtl.Api.V1;

namespace StreamMtl.Server.Service;

/// <summary>
/// One subscriber's record of the outputs it was sent, for <c>Encoding.skip_unchanged</c>: an output it already received
/// goes out without data, marked <c>unchanged</c>. A task held at a reduced compute level repeats its last output as the
/// very same <see cref="EncodedOutput"/> (<see cref="ResultEncoder"/>), so "already received" is that object having been
/// this subscriber's last output of the task; a subscriber that missed the frame the output was computed on (a result
/// dropped for it) gets the data again. The web view keeps one per stream a page shows.
/// </summary>
internal sealed class UnchangedOutputs
{
    private readonly Dictionary<VisionTask, EncodedOutput> _sent = [];

    /// <summary>Whether <paramref name="output"/> is this subscriber's last output of its task, sent already; counts it as sent.</summary>
    public bool Repeats(EncodedOutput output)
    {
        bool repeats = _sent.TryGetValue(output.Task, out var last) && ReferenceEquals(last, output);
        _sent[output.Task] = output;
        return repeats;
    }

    /// <summary>The message for <paramref name="result"/>, counting its outputs as sent.</summary>
    public V1.FrameResult ToApi(EncodedResult result, long droppedForSubscriber)
    {
        var message = ApiMapping.ToApi(result, droppedForSubscriber);
        for (int i = 0; i < result.Outputs.Count; i++)
        {
            if (Repeats(result.Outputs[i]))
            {
                message.Outputs[i].Data = ByteString.Empty;
                message.Outputs[i].Unchanged = true;
            }
        }
        return message;
    }
}
