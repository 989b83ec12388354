"""One training job end to end: prepare the data and model, compile, fit, evaluate against the
naive baseline and record the run folder (`run`); where a job starts (`start`: new, resumed or
multi-worker); and `--skip-existing` (`reuse`). The one place that drives the stages in order."""
