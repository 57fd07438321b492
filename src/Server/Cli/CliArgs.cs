using System.Globalization;

namespace StreamMtl.Server.Cli;

/// <summary>Parsed "--name value" / "--flag" options of one subcommand; every unknown or malformed option is an error.</summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private CliArgs()
    {
    }

    public static CliArgs Parse(IEnumerable<string> args)
    {
        var parsed = new CliArgs();
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string arg = list[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length < 3)
            {
                throw new CliException($"unexpected argument '{arg}' (options look like --name value)");
            }
            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = list[++i];
            }
            if (!parsed._values.TryAdd(name, value))
            {
                throw new CliException($"option --{name} given twice");
            }
        }
        return parsed;
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var value))
        {
            return false;
        }
        return value switch
        {
            null or "true" or "1" => true,
            "false" or "0" => false,
            _ => throw new CliException($"--{name} is a flag (true/false), got '{value}'"),
        };
    }

    public string? String(string name)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var value))
        {
            return null;
        }
        return value ?? throw new CliException($"--{name} needs a value");
    }

    public string String(string name, string fallback) => String(name) ?? fallback;

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue) =>
        Number(name, fallback, min, max, s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture));

    public double Double(string name, double fallback, double min = double.MinValue, double max = double.MaxValue) =>
        Number(name, fallback, min, max, s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture));

    public int? OptionalInt(string name, int min = int.MinValue, int max = int.MaxValue) =>
        String(name) == null ? null : Int(name, 0, min, max);

    /// <summary>Fails on options nobody asked for (typos), naming all of them.</summary>
    public void EnsureAllUsed()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).Select(k => "--" + k).ToList();
        if (unknown.Count > 0)
        {
            throw new CliException($"unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown)}");
        }
    }

    private T Number<T>(string name, T fallback, T min, T max, Func<string, T> parse) where T : IComparable<T>
    {
        string? text = String(name);
        if (text == null)
        {
            return fallback;
        }
        T value;
        try
        {
            value = parse(text);
        }
        catch (FormatException)
        {
            throw new CliException($"--{name} must be a number, got '{text}'");
        }
        catch (OverflowException)
        {
            throw new CliException($"--{name} is out of range: '{text}'");
        }
        if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
        {
            throw new CliException($"--{name} must be between {min} and {max}, got {text}");
        }
        return value;
    }
}

/// <summary>A command-line usage error: printed without a stack trace, exit code 2.</summary>
public sealed class CliException(string message) : Exception(message);
