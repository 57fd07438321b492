using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace StreamMtl.Server.Cli;

/// <summary>The generated help, followed by a command's notes (prose that belongs to no single option).</summary>
internal sealed class NotedHelp(HelpAction generated, IReadOnlyDictionary<Command, string> notes) : SynchronousCommandLineAction
{
    private const int Width = 110;

    // Help asked for alongside a mistake (`train --bogus --help`) is still help, as with the generated action.
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        // Wrap where the hand-written help texts did; output that is not a terminal would otherwise never wrap.
        int terminal = Console.IsOutputRedirected ? 0 : Console.WindowWidth;
        generated.MaxWidth = terminal > 0 ? Math.Min(terminal, Width) : Width;
        int code = generated.Invoke(parseResult);
        if (notes.TryGetValue(parseResult.CommandResult.Command, out var note))
        {
            parseResult.InvocationConfiguration.Output.WriteLine(note);
        }
        return code;
    }
}
