"""Transfer between data sets with `model.weights: run:ID` and `train.phases`, judged on held-out
digits: does a backbone pretrained on Fashion-MNIST beat the same network from random weights
when only 1,000 MNIST digits are there to learn from?

1. Pretrain once (`--model`, by default dlrun's `cnn`: two conv blocks, 16 and 32 filters,
   Flatten, no dense layers, so every weight but the output layer's is in the part that
   transfers) on all 60,000 Fashion-MNIST training images.
2. For each seed, MNIST's 10,000 test digits are split (seeded, stratified) into 1,000 to learn
   from and the other 9,000 held out; both arms see the same 1,000 and are judged on the same
   9,000, for the same number of epochs over the same digits (each budget in `--epochs`):
   - pretrained: `weights: run:ID`, phase 1 the new head only (a quarter of the epochs, at
     least one), phase 2 all layers at a 10x lower rate; for each rate in `--rates`;
   - random weights: the same `cnn` config, all epochs, for each rate in `--scratch-rates`;
   - with `--control`, also random weights fine-tuned in the same phases as the pretrained
     start (only the starting weights differ): whether the Fashion-MNIST weights carry anything.
   Each arm is scored at its best rate (mean over seeds, chosen on the held-out digits, the
   same for both arms); the gain is paired by seed, with p of "no gain" from a one-sided
   paired t-test over the seeds.

The design that wins, and the check (exit 1 unless, at 2 epochs, the pretrained start beats
the random start at its best rate by a point on average, with p < 0.05):

    nice -n 15 python benchmarks/transfer.py \
        --model "{type: cnn, filters: [64, 128], dense: [], dropout: 0.0}" \
        --epochs 2 --head-epochs 1 --rates 0.03 --scratch-rates 0.004 0.005 0.006 0.007 \
        --augment "{rotation: 0.05, zoom: 0.1, translation: 0.1}" --schedule "{type: cosine}" \
        --seeds 20 21 22 23 24 25 26 27 28 29 --margin 0.01    # 10 minutes; passes

The defaults (a narrow `[16, 32]` backbone, no augmentation, a constant rate; 3 budgets, 3
seeds, 2 arms, 2 rates) are the first design measured, where the gain ties:

    nice -n 15 python benchmarks/transfer.py               # 18.5 minutes (2 December 2026)
    nice -n 15 python benchmarks/transfer.py --margin 0.01 # exits 1

`--epochs 2 --rates 0.01 --scratch-rates 0.01 --control --margin 0.03 --margin-over same-phases`
passes in 5.4 minutes. The figures are in docs/models.md ("Pretrain on one data set, fine-tune
on another").

The variants tried there are options: `--model` (the backbone's `model:`, e.g. `"{type: resnet,
blocks: [1, 1, 1], filters: [16, 32, 64]}"`), `--pretrain-epochs`, `--augment` (the `data.augment`
of both arms' 1,000 digits), `--pretrain-augment`, `--schedule` (both arms' rate schedule, each
phase its own: `"{type: cosine}"`), `--no-freeze-batchnorm`, `--head` (the pretrained arm's
`dense`/`dropout` head; with dense layers the random arm is that same model on an untrained
backbone), `--head-epochs` (phase 1's), `--phase2-trainable` (`all` or `last N`),
`--batch-size`, `--optimizer-args` (more Adam keys for both arms) and `--pretrained RUN_FOLDER`
(start from an earlier pretraining run instead of pretraining again). Both arms with the same
augmentation and a cosine schedule, the fairest tuning of the random start found:

    nice -n 15 python benchmarks/transfer.py --epochs 10 --rates 0.01 0.03 \
        --scratch-rates 0.003 0.01 --augment "{rotation: 0.05, zoom: 0.1, translation: 0.1}" \
        --schedule "{type: cosine}" --control      # 8.2 minutes; the random start wins

Needs ../shared/data (Fashion-MNIST, and MNIST's test digits). Prints a JSON line per budget
and one JSON object at the end; with `--margin`, exits 1 when, at any budget in `--epochs`, the
pretrained mean does not beat the random start's (`--margin-over random`, the default, or
`same-phases`) by the margin, or the paired t-test's p is not below `--alpha` (0.05).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
FASHION, MNIST = DATA / "fashion-mnist", DATA / "mnist"
MODEL = "{type: cnn, filters: [16, 32], dense: [], dropout: 0.0}"


def train(folder: Path, name: str, text: str) -> tuple[Path, float, float]:
    """(run folder, held-out accuracy, seconds) of one dlrun run from this config text."""
    from dlrun.config import load_config
    from dlrun.experiment.run import run_experiment

    path = folder / f"{name}.yaml"
    path.write_text(text)
    began = time.perf_counter()
    outcome = run_experiment(load_config(path), output_dir=folder / "outputs")
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    return outcome.run_dir, round(metrics["test_accuracy"], 4), time.perf_counter() - began


def digits(seed: int, args: argparse.Namespace) -> str:
    # test_split 0.9 of the 10,000: the 9,000 held out, the other 1,000 all trained on.
    return (
        f"seed: {seed}\n"
        f"data: {{source: idx, images: {MNIST}/t10k-images-idx3-ubyte.gz, labels: "
        f"{MNIST}/t10k-labels-idx1-ubyte.gz, test_split: 0.9, validation_split: 0, "
        f"augment: {args.augment}}}\n"
        "report: {plots: false}\n"
    )


def pretrain(folder: Path, args: argparse.Namespace) -> tuple[Path, float, float]:
    return train(
        folder,
        "fashion",
        f"""name: fashion
data: {{source: idx, images: {FASHION}/train-images-idx3-ubyte.gz,
  labels: {FASHION}/train-labels-idx1-ubyte.gz, test_images: {FASHION}/t10k-images-idx3-ubyte.gz,
  test_labels: {FASHION}/t10k-labels-idx1-ubyte.gz, limit: {args.pretrain_images},
  validation_split: 0, augment: {args.pretrain_augment}}}
model: {args.model}
train: {{epochs: {args.pretrain_epochs}, batch_size: 128,
  optimizer: {{name: adam, learning_rate: 0.003}}}}
report: {{plots: false}}
""",
    )


def head_epochs(epochs: int, args: argparse.Namespace) -> int:
    """Phase 1's epochs (the head alone): `--head-epochs`, else a quarter, at least one."""
    head = args.head_epochs if args.head_epochs is not None else max(1, epochs // 4)
    assert 1 <= head < epochs, f"--head-epochs {head}: phase 2 needs an epoch of {epochs}"
    return head


def head_keys(args: argparse.Namespace) -> dict:
    """The `pretrained` model's head keys (`dense`, `dropout`) from `--head`."""
    import yaml

    return {"dense": [], "dropout": 0.0, **yaml.safe_load(args.head)}


def head(args: argparse.Namespace) -> str:
    """`head_keys` as YAML flow."""
    return ", ".join(f"{key}: {json.dumps(value)}" for key, value in head_keys(args).items())


def fine_tune(
    folder: Path, source: str, seed: int, epochs: int, rate: float, args: argparse.Namespace
) -> float:
    first = head_epochs(epochs, args)
    _, accuracy, _ = train(
        folder,
        f"pretrained{seed}",
        f"""name: pretrained
{digits(seed, args)}model: {{type: pretrained, weights: "{source}", {head(args)}}}
train:
  batch_size: {args.batch_size}
  optimizer: {{name: adam, schedule: {args.schedule}{optimizer_args(args)}}}
  phases:
    - {{epochs: {first}, trainable: head, learning_rate: {rate}}}
    - {{epochs: {epochs - first}, trainable: {args.phase2_trainable}, learning_rate: {rate / 10:g},
       freeze_batchnorm: {str(args.freeze_batchnorm).lower()}}}
""",
    )
    return accuracy


def optimizer_args(args: argparse.Namespace) -> str:
    """`--optimizer-args` (both arms' extra Adam keys, e.g. weight_decay) as `, key: value`."""
    import yaml

    extra = yaml.safe_load(args.optimizer_args) or {}
    return "".join(f", {key}: {json.dumps(value)}" for key, value in extra.items())


def scratch_model(folder: Path, seed: int, args: argparse.Namespace) -> str:
    """The random arm's `model:`: `--model` itself, or, when `--head` has dense layers (which
    a `cnn` would place differently), the pretrained arm's very model on an untrained backbone."""
    if not head_keys(args)["dense"]:
        return args.model
    return f'{{type: pretrained, weights: "{random_start(folder, seed, args)}", {head(args)}}}'


def from_scratch(
    folder: Path, seed: int, epochs: int, rate: float, args: argparse.Namespace
) -> float:
    _, accuracy, _ = train(
        folder,
        f"scratch{seed}",
        f"""name: scratch
{digits(seed, args)}model: {scratch_model(folder, seed, args)}
train: {{epochs: {epochs}, batch_size: {args.batch_size}, optimizer: {{name: adam,
  learning_rate: {rate}, schedule: {args.schedule}{optimizer_args(args)}}}}}
""",
    )
    return accuracy


def random_start(folder: Path, seed: int, args: argparse.Namespace) -> Path:
    """The same model, untrained (seeded), as a `.keras` file: `weights:` for the control arm,
    which fine-tunes in the same phases as the pretrained one and differs only in its start."""
    import keras
    import yaml

    from dlrun.data.base import DataSpec
    from dlrun.models import build_model, models

    keras.utils.set_random_seed(seed)
    spec = DataSpec(
        input_shape=(28, 28, 1), task="classification", input_kind="images", num_classes=10
    )
    path = folder / f"random{seed}.keras"
    params = yaml.safe_load(args.model)
    build_model(models.get(params["type"]).params.model_validate(params), spec).save(path)
    return path


def summary(values: list[float]) -> dict[str, float]:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(statistics.mean(values), 4), "std": round(spread, 4)}


def gain_summary(gains: list[float]) -> dict[str, float]:
    """The paired gains' mean and spread, the worst seed, how many seeds are behind, and p of
    'no gain' by a one-sided paired t-test over the seeds (the gain is measurable when p is
    small; scipy is already a dlrun dependency, for `dlrun check`'s Welch's test)."""
    from scipy import stats

    p_value = stats.ttest_1samp(gains, 0.0, alternative="greater").pvalue if len(gains) > 1 else 1
    return {
        **summary(gains),
        "min": round(min(gains), 4),
        "seeds_behind": sum(gain <= 0 for gain in gains),
        "p_value": round(float(p_value), 5),
    }


def arm(by_rate: dict[float, dict[int, float]]) -> dict[str, object]:
    """Each rate's accuracies per seed with mean and spread, and the best rate (by mean)."""
    best = max(by_rate, key=lambda rate: statistics.mean(by_rate[rate].values()))
    return {
        "best_rate": best,
        **summary(list(by_rate[best].values())),
        "rates": {
            str(rate): {"per_seed": by_seed, **summary(list(by_seed.values()))}
            for rate, by_seed in by_rate.items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=MODEL, help="the backbone's model: YAML")
    parser.add_argument("--augment", default="{}", help="data.augment of both arms (YAML)")
    parser.add_argument("--schedule", default="null", help="both arms' rate schedule (YAML)")
    parser.add_argument("--pretrain-augment", default="{}", help="data.augment, pretraining")
    parser.add_argument("--pretrain-images", type=int, default=60_000)
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, nargs="+", default=[2, 4, 10], help="budgets, >= 2")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.003, 0.01], help="phase 1's")
    parser.add_argument("--freeze-batchnorm", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--scratch-rates", type=float, nargs="+", default=[0.003, 0.01])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--pretrained",
        type=Path,
        default=None,
        help="a Fashion-MNIST run folder to start from instead of pretraining (from an "
        "earlier run of this benchmark's pretraining config, or any run of the same input shape)",
    )
    parser.add_argument(
        "--head",
        default="{dense: [], dropout: 0.0}",
        help="the pretrained arm's head (YAML: dense, dropout); with dense layers the random "
        "arm is that same model on an untrained --model backbone",
    )
    parser.add_argument(
        "--head-epochs", type=int, default=None, help="phase 1's epochs (default: a quarter)"
    )
    parser.add_argument(
        "--phase2-trainable",
        default="all",
        help="phase 2's train.phases trainable: all (the issue's recipe) or last N",
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="both arms' batch size on the 1,000 digits"
    )
    parser.add_argument(
        "--optimizer-args",
        default="{}",
        help='more Adam keys for both arms (YAML, e.g. "{weight_decay: 0.0001}")',
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="also fine-tune random weights in the same phases (only the start differs)",
    )
    parser.add_argument("--margin", type=float, default=None, help="exit 1 below this gain")
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="and unless the paired t-test's p is below it"
    )
    parser.add_argument(
        "--margin-over",
        choices=["random", "same-phases"],
        default="random",
        help="the arm --margin is checked against (same-phases needs --control)",
    )
    args = parser.parse_args()
    assert min(args.epochs) >= 2, "a head phase and an all-layers phase"
    assert args.control or args.margin_over == "random", "--margin-over same-phases: --control"

    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "model": args.model,
        "args": vars(args),
    }
    began = time.perf_counter()
    gains_by_budget: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        if args.pretrained is None:
            source, accuracy, seconds = pretrain(folder, args)
            run_id = "run:" + source.name.rsplit("-", 1)[-1]
        else:
            source, seconds = args.pretrained.resolve(), 0.0
            accuracy = json.loads((source / "metrics.json").read_text())["test_accuracy"]
            run_id = str(source)
        results["fashion_test_accuracy"] = round(accuracy, 4)
        results["pretrain_seconds"] = round(seconds)
        for epochs in args.epochs:
            pretrained = {
                rate: {s: fine_tune(folder, run_id, s, epochs, rate, args) for s in args.seeds}
                for rate in args.rates
            }
            scratch = {
                rate: {s: from_scratch(folder, s, epochs, rate, args) for s in args.seeds}
                for rate in args.scratch_rates
            }
            ours, theirs = arm(pretrained), arm(scratch)
            if args.control:
                starts = {s: str(random_start(folder, s, args)) for s in args.seeds}
                control = {
                    rate: {
                        s: fine_tune(folder, starts[s], s, epochs, rate, args) for s in args.seeds
                    }
                    for rate in args.rates
                }
            gains = [
                pretrained[ours["best_rate"]][s] - scratch[theirs["best_rate"]][s]
                for s in args.seeds
            ]
            results[f"epochs_{epochs}"] = {
                "pretrained": ours,
                "random_weights": theirs,
                "gain": gain_summary(gains),
            }
            if args.control:
                same = arm(control)
                over = [
                    pretrained[ours["best_rate"]][s] - control[same["best_rate"]][s]
                    for s in args.seeds
                ]
                results[f"epochs_{epochs}"]["random_weights_same_phases"] = same
                if args.margin_over == "same-phases":
                    gains = over
                results[f"epochs_{epochs}"]["gain_over_same_phases"] = gain_summary(over)
            gains_by_budget[epochs] = gains
            print(json.dumps({f"epochs_{epochs}": results[f"epochs_{epochs}"]}), flush=True)
    results["seconds"] = round(time.perf_counter() - began)
    # default=str: `--pretrained` puts a Path into `args`.
    print(json.dumps(results, indent=2, default=str))
    if args.margin is None:
        return 0
    short = [
        epochs
        for epochs, gains in gains_by_budget.items()
        if statistics.mean(gains) < args.margin or gain_summary(gains)["p_value"] >= args.alpha
    ]
    for epochs in short:
        print(
            f"FAIL: at {epochs} epochs the pretrained start does not beat {args.margin_over}"
            f" by {args.margin} on average with p < {args.alpha}"
        )
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
