// libtorch's random generator is process-wide: a test that seeds it and then builds a model or draws inputs must
// not have another test's draws land in between, or its weights depend on the order the scheduler picked. Test
// classes therefore run one after the other here (the model tests use both cores through libtorch's own threads).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
