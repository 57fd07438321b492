using StreamMtl.Server.Cli;

return await CommandLine.RunAsync(args);
