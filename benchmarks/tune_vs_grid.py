"""`dlrun tune` against a 16-point grid sweep on wine quality (issue 18, acceptance 1).

The space has four keys; the grid takes two values of each inside the same ranges: both
choices of a choice key, the two dropouts at the ends of their range, and the learning rates at
the middles of the two halves of their log range (3e-4 and 3e-3 in [1e-4, 1e-2], as a grid's
cells are usually placed). Runs, one after the other (never at the same time, so neither slows
the other), as a user would:

    dlrun tune configs/wine_quality.yaml --space SPACE --trials 30 --jobs 2 --seed 0 \
        --pruner halving --prune-warmup 3 --prune-on loss --json
    dlrun sweep configs/wine_quality.yaml --grid ... (16 points) --jobs 2 --json

and prints, for each, the best validation MAE (the tuner's objective: the early-stopping monitor),
its test MAE (reported, never chosen by), the epochs trained in all and the wall time; then
whether the tuner matched the grid's best in fewer epochs. Needs `pip install -e ".[tune]"` and
the data the config names. About 17 minutes on 2 busy cores (8 to 10 each).

    python benchmarks/tune_vs_grid.py          # both, their folders in a new temp folder
    python benchmarks/tune_vs_grid.py --only tune --out /tmp/bench --json /tmp/bench/tune.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "configs/wine_quality.yaml"
SPACE = """\
train.optimizer.learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
train.batch_size: {choice: [64, 256]}
model.units: {choice: [[128, 128], [512, 512, 512]]}
model.dropout: {uniform: [0, 0.3]}
"""
GRID = [
    "train.optimizer.learning_rate=0.0003,0.003",
    "train.batch_size=64,256",
    "model.units=[128,128],[512,512,512]",
    "model.dropout=0,0.3",
]
OBJECTIVE = "val_mae"


def run(command: list[str], out: Path) -> tuple[dict, float]:
    """The command's last JSON line and its wall time (dlrun from this checkout's Python)."""
    env = {**os.environ, "DLRUN_OUTPUT_DIR": str(out)}
    print("$ dlrun " + " ".join(command), file=sys.stderr, flush=True)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dlrun", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        sys.exit(f"exit {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads(lines[-1]), wall


def tune(
    out: Path,
    trials: int,
    jobs: int,
    seed: int,
    pruner: str,
    warmup: int | None,
    prune_on: str | None = None,
) -> dict:
    space = out / "space.yaml"
    space.write_text(SPACE, encoding="utf-8")
    command = ["tune", CONFIG, "--space", str(space), "--trials", str(trials)]
    command += ["--jobs", str(jobs), "--seed", str(seed), "--pruner", pruner]
    command += [] if warmup is None else ["--prune-warmup", str(warmup)]
    command += [] if prune_on is None else ["--prune-on", prune_on]
    command += ["--study", f"bench_{pruner}_{seed}"]
    reply, wall = run([*command, "--json"], out)
    best = reply["best"] or {}
    return {
        "command": "dlrun " + " ".join(command),
        "runs": f"{reply['trials']} trials: {reply['complete']} completed, "
        f"{reply['pruned']} pruned, {reply['failed']} failed",
        "best_val_mae": best.get("value"),
        "best_test_mae": (best.get("test") or {}).get("test_mae"),
        "best_values": best.get("values"),
        "total_epochs": reply["total_epochs"],
        "wall_s": round(wall),
        "folder": reply["study_dir"],
    }


def sweep(out: Path, jobs: int) -> dict:
    command = ["sweep", CONFIG, *(part for g in GRID for part in ("--grid", g))]
    command += ["--jobs", str(jobs)]
    reply, wall = run([*command, "--json"], out)
    members = [m for m in reply["members"] if m["status"] == "completed"]
    best = min(members, key=lambda m: m["metrics"][OBJECTIVE])
    return {
        "command": "dlrun " + " ".join(f"'{p}'" if "[" in p else p for p in command),
        "runs": f"{len(reply['members'])} members, {len(members)} completed",
        "best_val_mae": best["metrics"][OBJECTIVE],
        "best_test_mae": best["metrics"].get("test_mae"),
        "best_values": best["values"],
        "total_epochs": sum(m["metrics"].get("epochs_run", 0) for m in reply["members"]),
        "wall_s": round(wall),
        "folder": reply["sweep_dir"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("tune", "sweep"))
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    # docs/tune.md's command: successive halving (a third goes on at each rung), its first cut
    # after a 3-epoch warm-up (at epoch 4) by the training loss (the validation MAE ranks wine
    # configs by chance that early), the next ones at epochs 10 and 28 by the validation MAE.
    parser.add_argument("--pruner", default="halving")
    parser.add_argument("--prune-warmup", type=int, default=3, help="-1: dlrun tune's default")
    parser.add_argument("--prune-on", default="loss", help="'': dlrun tune's (the objective)")
    parser.add_argument("--out", type=Path, help="output root (default: a new temp folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="tune-vs-grid-"))
    out.mkdir(parents=True, exist_ok=True)
    figures = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "space": SPACE}
    if args.only != "sweep":
        figures["tune"] = tune(
            out,
            args.trials,
            args.jobs,
            args.seed,
            args.pruner,
            None if args.prune_warmup < 0 else args.prune_warmup,
            args.prune_on or None,
        )
    if args.only != "tune":
        figures["sweep"] = sweep(out, args.jobs)
    print("| | runs | best val_mae | its test_mae | epochs in all | wall |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in ("tune", "sweep"):
        if name in figures:
            f = figures[name]
            row = [name, f["runs"], f"{f['best_val_mae']:.4f}", f"{f['best_test_mae']:.4f}"]
            print("| " + " | ".join([*row, str(f["total_epochs"]), f"{f['wall_s']} s"]) + " |")
            print(f"  {f['command']}\n  best: {f['best_values']}\n  {f['folder']}")
    if "tune" in figures and "sweep" in figures:
        t, s = figures["tune"], figures["sweep"]
        holds = t["best_val_mae"] <= s["best_val_mae"] and t["total_epochs"] < s["total_epochs"]
        figures["acceptance_holds"] = holds
        print(f"tune at least as good as the grid's best, in fewer epochs: {holds}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
