namespace StreamMtl.Pipeline.Weights;

/// <summary>A weights file is malformed or does not fit the model; the message names the file and the tensor.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string message) : base(message)
    {
    }

    public ModelFormatException(string message, Exception inner) : base(message, inner)
    {
    }
}
