"""Using a trained run: evaluate it again, predict with it, export it.

Everything comes from the run folder (read through `dlrun.runs`): the resolved config, the
data spec with the training split's preprocessing statistics (`data.json`) and `model.keras`.
Nothing is re-fitted on the new data, so an input is encoded exactly as in training.

These modules import TensorFlow; the CLI imports them only when such a command runs.
"""
