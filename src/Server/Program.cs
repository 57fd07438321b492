using StreamMtl.Pipeline.Inference;
using StreamMtl.Server.Cli;

// Before anything loads libtorch: its OpenMP runtime reads the wait policy once, at load (OpenMpPolicy).
OpenMpPolicy.Apply();
return await CommandLine.RunAsync(args);
