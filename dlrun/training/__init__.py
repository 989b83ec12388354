"""Fitting a built model on pipelines: compile and fit (`trainer`), devices and tf.distribute
(`strategies`, `cluster`, `distributed`, `supervise`), resumable state (`backup`), the naive
baseline predictor (`naive_baseline`), progress, TensorBoard callbacks and the environment
facts a run records. Writes no run files itself: paths are handed in."""
