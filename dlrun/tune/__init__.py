"""Hyperparameter search (`dlrun tune`) on Optuna: the search space checked against the config
schema (`space`), the study whose trials are `dlrun train` processes in one study folder
(`study`), the pruning callback inside each trial (`pruning`), and what a study found
(`results`). Optuna is an optional extra (`pip install -e ".[tune]"`), imported only to tune.
"""
