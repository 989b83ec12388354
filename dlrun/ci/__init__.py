"""Pass or fail for CI: metric gates and baseline checks (`gates`), baseline files
(`baseline_files`) and CI outputs: step summaries, JUnit XML, annotations (`summary`)."""
