"""One name at a time vs mini-batches: how much faster does a batched RNN reach the same accuracy?

Trains two character RNNs on the names training split (``course_utils.data.load_names``) and clocks
the training time only (validation checks excluded):

* **loop**: the lecture's model (``i2h`` / ``i2o`` on ``cat(input, hidden)``, with the tanh fix),
  one-hot ASCII letters, one name per step, plain SGD (lr 0.005), epochs over the shuffled data;
  always on the CPU, as in the lecture;
* **batched**: embedding + ``nn.RNN`` on packed, padded batches of 64 raw names, Adam, on the
  course's device (CUDA if there is one).

The target is the lower of the two best validation accuracies, so both runs reach it; the ratio is
``loop_seconds / batched_seconds`` to get there. Notebook 04 (section 8) shows the same comparison.

    python benchmarks/names_loop_vs_batched.py [--loop-epochs 1] [--epochs 4] [--threads 1]

The last lines are ``name: value`` pairs (``target_val_accuracy``, ``loop_seconds``,
``batched_seconds``, ``speed_ratio``).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from tqdm.auto import tqdm

from course_utils import get_device, seed_everything
from course_utils.data import load_names
from course_utils.metrics import accuracy
from course_utils.names import N_LETTERS, build_char_vocab, name_to_onehot, names_loader, unicode_to_ascii


class OneNameRNN(nn.Module):
    """The lecture's RNN with a tanh on the hidden state: h_t = tanh(W [x_t; h_{t-1}] + b)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        combined = torch.cat((x, hidden), 1)  # [B, 57 + H]
        return self.softmax(self.i2o(combined)), torch.tanh(self.i2h(combined))  # [B, C], [B, H]


class NameRNN(nn.Module):
    """Embedding -> nn.RNN over the packed batch -> linear layer on the last hidden state."""

    def __init__(self, vocab_size: int, num_classes: int, emb_dim: int = 64, hidden_size: int = 128) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=0)
        self.rnn = nn.RNN(emb_dim, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:  # x: [B, T], lengths: [B]
        packed = pack_padded_sequence(
            self.embedding(x), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, h_n = self.rnn(packed)  # h_n: [1, B, H]
        return self.out(h_n[-1])  # [B, C]


@torch.no_grad()
def one_name_accuracy(model: OneNameRNN, names: list[str], y: torch.Tensor, num_classes: int) -> float:
    """Accuracy of the one-name model, reading names of equal length together (same result, faster)."""
    log_probs = torch.empty(len(names), num_classes)
    by_length: dict[int, list[int]] = {}
    for i, name in enumerate(names):
        by_length.setdefault(len(name), []).append(i)
    for length, idx in by_length.items():
        x = torch.cat([name_to_onehot(names[i]) for i in idx], dim=1)  # [T, B, 57]
        hidden = torch.zeros(len(idx), model.hidden_size)
        for t in range(length):
            output, hidden = model(x[t], hidden)
        log_probs[idx] = output
    return accuracy(log_probs.argmax(1), y)


def train_loop(splits, epochs: int, evals_per_epoch: int, lr: float = 0.005) -> list[tuple[float, float]]:
    """The lecture's loop; returns (training seconds, validation accuracy) at each check."""
    classes = splits.classes
    data = [
        (name_to_onehot(unicode_to_ascii(n)), torch.tensor([classes.index(lang)])) for n, lang in splits.train
    ]
    val_names = [unicode_to_ascii(n) for n, _ in splits.val]
    val_y = torch.tensor([classes.index(lang) for _, lang in splits.val])
    model, criterion = OneNameRNN(N_LETTERS, 128, len(classes)), nn.NLLLoss()
    eval_every = max(1, len(data) // evals_per_epoch)
    curve, seconds = [], 0.0
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(data)).tolist()
        for step, i in enumerate(tqdm(order, desc=f"loop epoch {epoch + 1}", mininterval=5, leave=False), 1):
            x, y = data[i]
            hidden = torch.zeros(1, model.hidden_size)
            model.zero_grad()
            for t in range(x.shape[0]):
                output, hidden = model(x[t], hidden)
            criterion(output, y).backward()
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            if step % eval_every == 0 or step == len(order):
                seconds += time.perf_counter() - start
                curve.append((seconds, one_name_accuracy(model, val_names, val_y, len(classes))))
                start = time.perf_counter()
    return curve


def train_batched(
    splits, epochs: int, evals_per_epoch: int, device: torch.device
) -> list[tuple[float, float]]:
    """Mini-batches with Adam; returns (training seconds, validation accuracy) at each check."""
    classes = splits.classes
    vocab = build_char_vocab(n for n, _ in splits.train)
    train_loader = names_loader(splits.train, vocab, classes, batch_size=64, seed=0)
    val_loader = names_loader(splits.val, vocab, classes, batch_size=512, shuffle=False)
    model = NameRNN(len(vocab), len(classes)).to(device)
    optimizer, loss_fn = torch.optim.Adam(model.parameters(), lr=3e-3), nn.CrossEntropyLoss()
    eval_every = max(1, len(train_loader) // evals_per_epoch)
    curve, seconds = [], 0.0
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        batches = tqdm(train_loader, desc=f"batched epoch {epoch + 1}", mininterval=5, leave=False)
        for step, ((x, lengths), y) in enumerate(batches, 1):
            loss = loss_fn(model(x.to(device), lengths), y.to(device))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if step % eval_every == 0 or step == len(train_loader):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                seconds += time.perf_counter() - start
                model.eval()
                with torch.no_grad():
                    preds, targets = [], []
                    for (x, n), y in val_loader:
                        preds.append(model(x.to(device), n).argmax(1).cpu())
                        targets.append(y)
                curve.append((seconds, accuracy(torch.cat(preds), torch.cat(targets))))
                model.train()
                start = time.perf_counter()
    return curve


def seconds_to_reach(curve: list[tuple[float, float]], target: float) -> float:
    return next(seconds for seconds, acc in curve if acc >= target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop-epochs", type=int, default=1, help="epochs of the one-name loop (default 1)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the batched model (default 4)")
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads for torch (default 1: fastest for tiny ops)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if min(args.loop_epochs, args.epochs, args.threads) < 1:
        parser.error("--loop-epochs, --epochs and --threads must be >= 1")

    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = get_device()
    splits = load_names(seed=args.seed)
    loop_curve = train_loop(splits, args.loop_epochs, evals_per_epoch=10)
    seed_everything(args.seed)
    batched_curve = train_batched(splits, args.epochs, evals_per_epoch=16, device=device)

    target = min(max(acc for _, acc in loop_curve), max(acc for _, acc in batched_curve))
    loop_seconds, batched_seconds = (
        seconds_to_reach(loop_curve, target),
        seconds_to_reach(batched_curve, target),
    )
    print(f"loop (cpu, one name per step): best val accuracy {max(a for _, a in loop_curve):.3f}")
    print(
        f"batched ({device.type}, 64 names per step): best val accuracy {max(a for _, a in batched_curve):.3f}"
    )
    print(f"device: {device.type}")
    print(f"threads: {args.threads}")
    print(f"target_val_accuracy: {target:.4f}")
    print(f"loop_seconds: {loop_seconds:.2f}")
    print(f"batched_seconds: {batched_seconds:.2f}")
    print(f"speed_ratio: {loop_seconds / batched_seconds:.1f}")


if __name__ == "__main__":
    main()
