"""The course's best names classifier, trained and scored once on the held-out test split.

Trains :func:`course_utils.charmodels.train_best_names_classifier` (a probability ensemble of a
hashed character n-gram bag and a CNN-BiGRU, raw Unicode characters) on the leakage-free split of
``course_utils.data.load_names(seed=0)``. The configuration was chosen on the validation split; the
test split is used here only, once. ``train_seconds`` is the wall-clock time of training (all members,
including the per-epoch validation pass), on ``--threads`` CPU threads (or the GPU, if there is one).

    python benchmarks/names_classifier.py [--epochs 10] [--threads 2] [--seed 0]
    COURSE_PROFILE=quick python benchmarks/names_classifier.py   # tiny: 1/8 of the training names, 3 epochs

The last lines are ``accuracy: …``, ``macro_f1: …``, ``train_seconds: …``.
"""

from __future__ import annotations

import argparse

import torch

from course_utils import by_profile, get_device, get_profile, seed_everything
from course_utils.charmodels import train_best_names_classifier
from course_utils.data import load_names
from course_utils.metrics import accuracy, macro_f1
from course_utils.names import names_loader
from course_utils.train import predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=by_profile(quick=3, full=10))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (the split is always seed 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = get_device()
    splits = load_names(seed=0)
    if get_profile() == "quick":
        splits.train = splits.train[::8]  # tiny run: every 8th training pair
    print(f"profile: {get_profile()} | device: {device.type} | threads: {torch.get_num_threads()}")
    print(f"train / val / test pairs: {len(splits.train)} / {len(splits.val)} / {len(splits.test)}")

    model, history, info = train_best_names_classifier(
        splits, device, epochs=args.epochs, seed=args.seed, progress=not args.quiet
    )
    for name, h in history.items():
        print(f"val_accuracy[{name}]: {h['val_accuracy'][-1]:.4f}")
    print(f"val_accuracy[ensemble]: {info['val_accuracy']:.4f}")
    print(f"parameters: {info['parameters']}")
    print(f"epochs: {info['epochs']}")

    test_loader = names_loader(
        splits.test, info["char_vocab"], info["classes"], batch_size=512, shuffle=False
    )
    log_probs, y = predict(model, test_loader, device)
    pred = log_probs.argmax(-1)
    print(f"accuracy: {accuracy(pred, y):.4f}")
    print(f"macro_f1: {macro_f1(pred, y, num_classes=len(info['classes'])):.4f}")
    print(f"train_seconds: {info['train_seconds']:.1f}")


if __name__ == "__main__":
    main()
