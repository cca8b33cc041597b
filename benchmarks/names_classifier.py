"""The course's best names classifier: chosen on the validation split, refit, scored once on test.

:func:`course_utils.charmodels.train_best_names_classifier` trains a probability ensemble of two
hashed character n-gram bags and two BiGRUs (raw Unicode characters) on the leakage-free split of
``course_utils.data.load_names(seed=0)``. The benchmark runs the usual two stages:

1. **selection**: train on ``train`` and report validation accuracy; every design choice and
   hyperparameter in ``MEMBER_CONFIGS`` was made on this number (``--skip-selection`` leaves it out);
2. **final**: train the same configuration, for the same number of epochs, on ``train + val`` (nothing
   is selected from this run, so validation data is no longer needed) and score the test split.

``train_seconds`` is the wall-clock time of the final training (all members, vocabulary building
included), on ``--threads`` CPU threads (or the GPU, if there is one).

    python benchmarks/names_classifier.py [--epochs 10] [--threads 2] [--seed 0] [--skip-selection]
    COURSE_PROFILE=quick python benchmarks/names_classifier.py   # tiny: 1/8 of train and val, 3 epochs

The last lines are ``accuracy: …``, ``macro_f1: …``, ``train_seconds: …``.
"""

from __future__ import annotations

import argparse

import torch

from course_utils import by_profile, get_device, get_profile, seed_everything
from course_utils.charmodels import train_best_names_classifier
from course_utils.data import Splits, load_names
from course_utils.metrics import accuracy, macro_f1
from course_utils.names import names_loader
from course_utils.train import predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=by_profile(quick=3, full=10))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (the split is always seed 0)")
    parser.add_argument("--skip-selection", action="store_true", help="skip stage 1 (train -> val)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = get_device()
    splits = load_names(seed=0)
    if get_profile() == "quick":  # tiny run: every 8th training and validation pair
        splits = Splits(splits.train[::8], splits.val[::8], splits.test, classes=splits.classes)
    print(f"profile: {get_profile()} | device: {device.type} | threads: {torch.get_num_threads()}")
    print(f"train / val / test pairs: {len(splits.train)} / {len(splits.val)} / {len(splits.test)}")
    kwargs = dict(epochs=args.epochs, seed=args.seed, progress=not args.quiet)

    if not args.skip_selection:
        _, history, info = train_best_names_classifier(splits, device, **kwargs)
        for name, h in history.items():
            print(f"selection val_accuracy[{name}]: {h['val_accuracy'][-1]:.4f}")
        print(f"selection val_accuracy[ensemble]: {info['val_accuracy']:.4f}")
        print(f"selection train_seconds: {info['train_seconds']:.1f}")

    final = Splits(splits.train + splits.val, [], splits.test, classes=splits.classes)
    model, _, info = train_best_names_classifier(final, device, **kwargs)
    print(f"final: trained on {len(final.train)} pairs (train + val) | parameters: {info['parameters']}")
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
