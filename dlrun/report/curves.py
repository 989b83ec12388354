"""Training curves as matplotlib figures (saving them is the run folder's job)."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import pandas as pd
from matplotlib.figure import Figure

# history.csv columns that are bookkeeping, not curves.
NOT_CURVES = {"epoch", "epoch_time_s", "samples_per_s", "learning_rate", "phase"}


def curve_names(history: pd.DataFrame) -> list[str]:
    """'loss' first, then each training metric that has a column in the history."""
    names = [c for c in history.columns if c not in NOT_CURVES and not c.startswith("val_")]
    return sorted(names, key=lambda name: (name != "loss", name))


def plot_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png"


def curve_figure(history: pd.DataFrame, name: str, title: str) -> Figure:
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    epochs = history["epoch"]
    axes.plot(epochs, history[name], marker="o", markersize=3, label=f"train {name}")
    if f"val_{name}" in history:
        axes.plot(
            epochs, history[f"val_{name}"], marker="o", markersize=3, label=f"validation {name}"
        )
    axes.set_title(f"{title}: {name}")
    axes.set_xlabel("epoch")
    axes.set_ylabel(name)
    axes.grid(alpha=0.3)
    axes.legend()
    if len(epochs) <= 20:
        axes.set_xticks(list(epochs))
    figure.tight_layout()
    return figure


def history_figures(history: pd.DataFrame, title: str) -> dict[str, Figure]:
    """{filename: figure}: loss.png and one PNG per metric, train against validation."""
    return {
        plot_filename(name): curve_figure(history, name, title) for name in curve_names(history)
    }
