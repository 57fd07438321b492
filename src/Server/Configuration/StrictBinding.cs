using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace StreamMtl.Server.Configuration;

/// <summary>
/// Binds the service's configuration section so that a mistake stops startup with a message naming the key, instead of
/// being dropped: a key no option has (a misspelt <c>Treshold</c>), a value of the wrong type (<c>MaxStreams=abc</c>, an
/// unhandled exception before), and a declared stream with either, which the binder skips without a word (the stream
/// then never started).
/// </summary>
public static class StrictBinding
{
    /// <summary>The service's options read from <paramref name="configuration"/> (for what the host needs before the container exists).</summary>
    public static ServiceOptions Read(IConfiguration configuration)
    {
        var options = new ServiceOptions();
        Bind(configuration.GetSection(ServiceOptions.Section), options);
        return options;
    }

    /// <summary>Binds <paramref name="section"/> into <paramref name="options"/>; every mistake at once in an <see cref="OptionsValidationException"/>.</summary>
    public static void Bind(IConfigurationSection section, ServiceOptions options)
    {
        // A list element that fails to bind is skipped silently by the binder: bind each declared stream alone to name its error.
        var errors = new List<string>();
        foreach (var stream in section.GetSection(nameof(ServiceOptions.Streams)).GetChildren())
        {
            try
            {
                stream.Get<StreamDeclaration>(b => b.ErrorOnUnknownConfiguration = true);
            }
            catch (InvalidOperationException e)
            {
                errors.Add(Describe(e));
            }
        }
        try
        {
            section.Bind(options, b => b.ErrorOnUnknownConfiguration = true);
        }
        // The whole section's error only when no stream's explains it (for a stream it says only that "binding has failed").
        catch (InvalidOperationException e) when (errors.Count == 0)
        {
            errors.Add(Describe(e));
        }
        catch (InvalidOperationException)
        {
        }
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(ServiceOptions.Section, typeof(ServiceOptions), errors);
        }
    }

    /// <summary>The binder's message (it names the key and the type) with the innermost cause.</summary>
    private static string Describe(InvalidOperationException e) =>
        e.InnerException?.GetBaseException() is { } cause ? $"{e.Message} {cause.Message}" : e.Message;
}
