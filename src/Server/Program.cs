using StreamMtl.Pipeline.Inference;
using StreamMtl.Server.Cli;

// Before anything loads libtorch: its OpenMP runtime reads the wait policy once, at load (OpenMpPolicy).
OpenMpPolicy.Apply();
// Frame-sized tensors stay in the C heap between frames instead of being mapped and faulted in again (NativeHeapPolicy).
NativeHeapPolicy.Apply();
return await CommandLine.RunAsync(args);
