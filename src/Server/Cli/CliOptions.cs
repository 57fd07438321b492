using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Server.Hosting;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace StreamMtl.Server.Cli;

/// <summary>Typed options with the command line's own value rules: invariant numbers, ranges, and messages that name the flag.</summary>
internal static class CliOptions
{
    /// <summary>An on/off option: given alone it means true; <c>--name false</c> turns off one whose <paramref name="fallback"/> is true.</summary>
    public static Option<bool> Flag(string name, string description, bool fallback = false)
    {
        var flag = new Option<bool>(name) { Description = description };
        if (fallback)
        {
            flag.DefaultValueFactory = _ => true;
        }
        return flag;
    }

    public static Option<string> Text(string name, string helpName, string description, string fallback) =>
        new(name) { HelpName = helpName, Description = description, DefaultValueFactory = _ => fallback };

    /// <summary>A value with no fixed default: null when absent (the command words what absence means in <paramref name="description"/>).</summary>
    public static Option<string?> OptionalText(string name, string helpName, string description) =>
        new(name) { HelpName = helpName, Description = description };

    /// <summary>--model F, the model file a command reads; null for the shipped model (<see cref="ModelLocator"/>).</summary>
    /// <summary>--adapter F, an adapter file (train --adapt) folded into the model's weights at load.</summary>
    public static Option<string?> AdapterPath() => OptionalText("--adapter", "F", "adapter file trained on the model with train --adapt, " +
        "folded into its weights at load [default: none]");

    public static Option<string?> ModelPath() => OptionalText("--model", "F", "model file [default: the shipped model]");

    /// <summary>--budget-rule frame|average: how the compute policy turns its logits into blocks (<see cref="BudgetRule"/>).</summary>
    public static Option<string> BudgetRuleOption(string extra = "")
    {
        var option = Text("--budget-rule", "RULE", "with --budget: frame = every frame within the target (the units the policy ranks " +
            "highest while they fit); average = the policy's own decisions (logit above 0, AdaMTL), which hold the target on average only " +
            "and let frames differ" + extra, "frame");
        option.AcceptOnlyFromAmong("frame", "average");
        return option;
    }

    /// <summary>The rule a --budget-rule value names.</summary>
    /// <summary>--calibrate: the average rule's threshold shifted to hold the target on validation frames (<see cref="Training.Evaluation.EvalOptions.Calibrate"/>).</summary>
    public static Option<bool> CalibrateOption() => Flag("--calibrate", "with --budget-rule average: shift every logit by the offset that " +
        "brings the mean executed fraction on 96 validation frames (seeds 101..108) nearest the target (the report's logit_offset)");

    public static BudgetRule BudgetRuleOf(string value) => value == "average" ? BudgetRule.Average : BudgetRule.PerFrame;

    /// <summary>--size WxH, the model's input size.</summary>
    public static Option<string> InputSize() => Text("--size", "WxH", "input size", "320x240");

    public static Option<int> Int(string name, string description, int fallback, int min = int.MinValue, int max = int.MaxValue, string helpName = "N") =>
        new(name) { HelpName = helpName, Description = description, DefaultValueFactory = _ => fallback, CustomParser = r => Number(r, min, max) };

    public static Option<int?> OptionalInt(string name, string description, int min = int.MinValue, int max = int.MaxValue, string helpName = "N") =>
        new(name) { HelpName = helpName, Description = description, CustomParser = r => Number(r, min, max) };

    public static Option<double> Double(string name, string description, double fallback, double min, double max, string helpName = "X") =>
        new(name) { HelpName = helpName, Description = description, DefaultValueFactory = _ => fallback, CustomParser = r => Number(r, min, max) };

    public static Option<double?> OptionalDouble(string name, string description, double min, double max) =>
        new(name) { HelpName = "X", Description = description, CustomParser = r => Number(r, min, max) };

    /// <summary>
    /// The numbers of a <see cref="Numbers"/> option, null when it was not given: System.CommandLine hands an absent array
    /// option's value back as an empty array, not null (a sweep with no budgets given ran no setting and crashed).
    /// </summary>
    public static double[]? GetNumbers(this ParseResult result, Option<double[]?> option) =>
        result.GetResult(option) is { Implicit: false } ? result.GetValue(option) : null;

    /// <summary>Comma-separated numbers, e.g. 0.05,0.1 (at least one); read with <see cref="GetNumbers"/>.</summary>
    public static Option<double[]?> Numbers(string name, string description) => new(name)
    {
        HelpName = "LIST",
        Description = description,
        Arity = ArgumentArity.ExactlyOne, // one comma-separated token, not the array default of one or more
        CustomParser = r =>
        {
            double[] values = [.. r.Tokens[0].Value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => Number(r, v, double.MinValue, double.MaxValue))];
            if (values.Length == 0)
            {
                r.AddError($"{name} needs at least one number, got '{r.Tokens[0].Value}'");
            }
            return values;
        },
    };

    /// <summary>A command whose body is <paramref name="run"/>, with these options.</summary>
    public static Command Command(string name, string description, Func<ParseResult, int> run, params Option[] options)
    {
        var command = Declare(name, description, options);
        command.SetAction(run);
        return command;
    }

    public static Command Command(string name, string description, Func<ParseResult, Task<int>> run, params Option[] options)
    {
        var command = Declare(name, description, options);
        command.SetAction(run);
        return command;
    }

    private static Command Declare(string name, string description, Option[] options)
    {
        var command = new Command(name, description);
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
        return command;
    }

    private static T Number<T>(ArgumentResult result, T min, T max) where T : struct, INumber<T>, IMinMaxValue<T> =>
        Number(result, result.Tokens[0].Value, min, max);

    /// <summary>Parses <paramref name="text"/> in the invariant culture; a malformed or out-of-range value is a parse error naming the flag.</summary>
    private static T Number<T>(ArgumentResult result, string text, T min, T max) where T : struct, INumber<T>, IMinMaxValue<T>
    {
        string name = ((OptionResult)result.Parent!).Option.Name;
        var style = typeof(T) == typeof(double) ? NumberStyles.Float : NumberStyles.Integer;
        if (!T.TryParse(text, style, CultureInfo.InvariantCulture, out T value))
        {
            // A whole number that does not fit is out of range rather than malformed.
            result.AddError(BigInteger.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                ? $"{name} is out of range: '{text}'"
                : $"{name} must be a number, got '{text}'");
        }
        else if (!(value >= min && value <= max)) // written so that NaN is refused too
        {
            result.AddError(max == T.MaxValue
                ? $"{name} must be at least {min}, got {text}"
                : $"{name} must be between {min} and {max}, got {text}");
        }
        return value;
    }
}
