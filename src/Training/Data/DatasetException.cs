namespace StreamMtl.Training.Data;

/// <summary>A data set on disk that cannot be read as its layout says: the message names the file and what is wrong with it.</summary>
public sealed class DatasetException(string message) : Exception(message);
