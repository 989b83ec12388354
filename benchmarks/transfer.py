"""Transfer between data sets with `model.weights: run:ID` and `train.phases`: the classic CNN
pretrained on Fashion-MNIST, then fine-tuned on 1,000 MNIST digits (half the epochs head only,
then all layers at a 10x lower rate), against the same CNN from random weights on the same
digits for the same epochs, at two learning rates; all judged on the same 2,000 held-out digits.

    python benchmarks/transfer.py                 # 20,000 pretraining images, 3 epochs
    python benchmarks/transfer.py --epochs 2 4 8

Needs ../shared/data (Fashion-MNIST and the MNIST test digits). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
CNN = "{type: cnn, filters: [32, 64], dense: [128], dropout: 0.3}"


def train(folder: Path, name: str, text: str) -> tuple[Path, float]:
    from dlrun.config import load_config
    from dlrun.experiment.run import run_experiment

    path = folder / f"{name}.yaml"
    path.write_text(text)
    outcome = run_experiment(load_config(path), output_dir=folder / "outputs")
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    return outcome.run_dir, round(metrics["test_accuracy"], 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrain-images", type=int, default=20_000)
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args()
    fashion, mnist = DATA / "fashion-mnist", DATA / "mnist"
    digits = (
        f"{{source: idx, images: {mnist}/t10k-images-idx3-ubyte.gz, labels: "
        f"{mnist}/t10k-labels-idx1-ubyte.gz, limit: 1000, validation_split: 0.1, "
        "test_split: 0.2}"
    )
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        pretrained, accuracy = train(
            folder,
            "fashion",
            f"""name: fashion
data: {{source: idx, images: {fashion}/train-images-idx3-ubyte.gz,
  labels: {fashion}/train-labels-idx1-ubyte.gz, limit: {args.pretrain_images},
  validation_split: 0.05}}
model: {CNN}
train: {{epochs: {args.pretrain_epochs}, batch_size: 128}}
report: {{plots: false}}
""",
        )
        results["fashion_test_accuracy"] = accuracy
        for epochs in args.epochs:
            head = max(1, epochs // 2)
            _, results[f"pretrained_{epochs}"] = train(
                folder,
                f"transfer{epochs}",
                f"""name: transfer
data: {digits}
model: {{type: pretrained, weights: "{pretrained}", dense: [128], dropout: 0.3}}
train:
  batch_size: 32
  phases:
    - {{epochs: {head}, trainable: head, learning_rate: 0.003}}
    - {{epochs: {epochs - head}, trainable: all, learning_rate: 0.0003}}
report: {{plots: false}}
""",
            )
            for rate in ("0.003", "0.001"):
                _, results[f"scratch_{epochs}_lr{rate}"] = train(
                    folder,
                    f"scratch{epochs}",
                    f"""name: scratch
data: {digits}
model: {CNN}
train: {{epochs: {epochs}, batch_size: 32, optimizer: {{name: adam, learning_rate: {rate}}}}}
report: {{plots: false}}
""",
                )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
