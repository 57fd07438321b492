using StreamMtl.Server.Cli;

namespace StreamMtl.Server.Tests.Infrastructure;

/// <summary>The streammtl command line for tests: the built executable as a child process, or the parser in this process.</summary>
internal static class CliUnderTest
{
    public static string Path_ => Path.Combine(AppContext.BaseDirectory, "streammtl");

    /// <summary>Runs the executable with <paramref name="args"/>; asserts it exits 0 within <paramref name="limit"/> and returns its output.</summary>
    public static async Task<string> ChildAsync(string[] args, TimeSpan limit)
    {
        await using var child = ChildProcess.Start(Path_, args);
        int code = await child.WaitAsync(limit);
        Assert.True(code == 0, $"streammtl {string.Join(' ', args)}: exit code {code}\n{child.Output}");
        return child.Output;
    }

    /// <summary>Runs the command line in this process; its exit code and what it wrote to standard error.</summary>
    public static async Task<(int Code, string Error)> RunAsync(params string[] args)
    {
        var error = new StringWriter();
        int code = await CommandLine.RunAsync(args, new StringWriter(), error);
        return (code, error.ToString());
    }
}
