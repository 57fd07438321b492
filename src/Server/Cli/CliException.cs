namespace StreamMtl.Server.Cli;

/// <summary>A command-line usage error: printed without a stack trace, exit code 2.</summary>
public sealed class CliException(string message) : Exception(message);
