import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.metrics import accuracy
from course_utils.train import (
    History,
    count_parameters,
    evaluate,
    fit,
    load_checkpoint,
    predict,
    save_checkpoint,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: threads only add overhead (and the CI machine has 2 shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def acc_metric(outputs, targets):
    return accuracy(outputs.argmax(-1), targets)


def separable_data(n, seed):
    """2-D points labelled by the side of the line x0 + x1 = 0, with a margin around it."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3 * n, 2, generator=g)
    x = x[(x.sum(1)).abs() > 0.3][:n]
    return x, (x.sum(1) > 0).long()


@pytest.fixture
def loaders():
    torch.manual_seed(0)
    x_train, y_train = separable_data(96, seed=1)
    x_val, y_val = separable_data(40, seed=2)
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x_val, y_val), batch_size=16)
    return train, val


def logistic_regression(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(2, 2)


class ScriptedMetric:
    """A fake metric returning preset values, one per call (i.e. per epoch)."""

    def __init__(self, values):
        self.values = list(values)

    def __call__(self, outputs, targets):
        return self.values.pop(0)


# ------------------------------------------------------------------------------------------------ fit
def test_fit_learns_separable_data(loaders):
    train, val = loaders
    model = logistic_regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    before = evaluate(model, val, nn.CrossEntropyLoss(), {"accuracy": acc_metric})
    history = fit(
        model,
        opt,
        nn.CrossEntropyLoss(),
        train,
        val,
        epochs=8,
        metrics={"accuracy": acc_metric},
        progress=False,
    )
    assert isinstance(history, History) and len(history) == 8
    assert history.keys() == ["epoch", "train_loss", "val_loss", "val_accuracy", "lr"]
    assert history["epoch"] == list(range(1, 9))
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_loss"][-1] < before["loss"]
    assert history["val_accuracy"][-1] >= 0.95
    assert history.monitor == "val_loss" and history.best_value == min(history["val_loss"])
    assert history["val_loss"][history.best_epoch - 1] == history.best_value
    assert not history.stopped_early and history.seconds > 0
    assert not model.training  # left in eval mode
    # the returned model is the best epoch's: evaluating it reproduces the recorded best value
    after = evaluate(model, val, nn.CrossEntropyLoss(), {"accuracy": acc_metric})
    assert after["loss"] == pytest.approx(history.best_value, rel=1e-6)


@pytest.mark.parametrize("loss_fn", [nn.CrossEntropyLoss(), F.cross_entropy], ids=["module", "function"])
def test_epoch_loss_is_example_weighted_mean(loss_fn):
    x, y = separable_data(10, seed=3)
    model = logistic_regression()
    loader = DataLoader(TensorDataset(x, y), batch_size=4)  # batches of 4, 4, 2
    history = fit(
        model, torch.optim.SGD(model.parameters(), lr=0.0), loss_fn, loader, epochs=1, progress=False
    )
    with torch.no_grad():
        full = F.cross_entropy(model(x), y).item()
        batch_means = [F.cross_entropy(model(xb), yb).item() for xb, yb in loader]
    assert sum(batch_means) / 3 != pytest.approx(full, rel=1e-6)  # the plain mean of batch means is not it
    assert history["train_loss"][0] == pytest.approx(full, rel=1e-6)
    assert evaluate(model, loader, loss_fn)["loss"] == pytest.approx(full, rel=1e-6)
    assert history.monitor == "train_loss"  # no val_loader: the default monitor falls back


class Tagger(nn.Module):
    def __init__(self, vocab=6, tags=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, 8)
        self.out = nn.Linear(8, tags)

    def forward(self, tokens):  # tokens: [B, T] -> logits: [B, T, tags]
        return self.out(self.emb(tokens))


class TokenCE(nn.CrossEntropyLoss):
    def forward(self, logits, tags):  # logits: [B, T, C], tags: [B, T]
        return super().forward(logits.reshape(-1, logits.shape[-1]), tags.reshape(-1))


def token_batches():
    """Two batches of different length T, padded with tag 0 (ignored by the loss)."""
    g = torch.Generator().manual_seed(0)
    tok1, tag1 = torch.randint(1, 6, (3, 5), generator=g), torch.randint(1, 4, (3, 5), generator=g)
    tok2, tag2 = torch.randint(1, 6, (2, 2), generator=g), torch.randint(1, 4, (2, 2), generator=g)
    tag1[0, 3:] = 0
    tag1[2, 1:] = 0
    tag2[1, 1] = 0
    return [(tok1, tag1), (tok2, tag2)]


def test_token_losses_are_per_token_means_and_metrics_see_padded_targets():
    model, batches, loss_fn = Tagger(), token_batches(), TokenCE(ignore_index=0)
    seen = {}

    def token_accuracy(logits, tags):
        seen["shapes"] = (tuple(logits.shape), tuple(tags.shape))
        mask = tags != 0
        return accuracy(logits.argmax(-1)[mask], tags[mask])

    result = evaluate(model, batches, loss_fn, {"acc": token_accuracy})
    with torch.no_grad():
        logits = [model(tok).reshape(-1, 4) for tok, _ in batches]
        tags = [tag.reshape(-1) for _, tag in batches]
        exact = F.cross_entropy(torch.cat(logits), torch.cat(tags), ignore_index=0)
        mask = torch.cat(tags) != 0
        exact_acc = (torch.cat(logits).argmax(-1)[mask] == torch.cat(tags)[mask]).float().mean()
    assert result["loss"] == pytest.approx(exact.item(), rel=1e-6)  # not the mean of the two batch means
    assert result["acc"] == pytest.approx(exact_acc.item())
    assert seen["shapes"] == ((5, 5, 4), (5, 5))  # the short batch was padded to T = 5
    outputs, targets = predict(model, batches, target_pad=-1)
    assert outputs.shape == (5, 5, 4) and (targets[3:, 2:] == -1).all() and (outputs[3:, 2:] == 0).all()


def test_early_stopping_restores_best_weights(loaders):
    train, val = loaders
    model = logistic_regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    score = ScriptedMetric([0.1, 0.3, 0.5, 0.4, 0.45, 0.2, 0.9, 0.9])
    history = fit(
        model,
        opt,
        nn.CrossEntropyLoss(),
        train,
        val,
        epochs=8,
        metrics={"score": score},
        monitor="val_score",
        mode="max",
        patience=3,
        progress=False,
    )
    assert history.stopped_early and len(history) == 6  # epochs 4, 5, 6 did not beat epoch 3
    assert (history.best_epoch, history.best_value) == (3, 0.5)
    best_val_loss, last_val_loss = history["val_loss"][2], history["val_loss"][-1]
    assert best_val_loss != pytest.approx(last_val_loss, rel=1e-6)  # the weights did move after epoch 3
    restored = evaluate(model, val, nn.CrossEntropyLoss())["loss"]
    assert restored == pytest.approx(best_val_loss, rel=1e-6)
    assert "stopped early" in repr(history)


def test_restore_best_false_keeps_last_weights(loaders):
    train, val = loaders
    model = logistic_regression()
    score = ScriptedMetric([0.9, 0.1, 0.1])
    history = fit(
        model,
        torch.optim.SGD(model.parameters(), lr=0.3),
        nn.CrossEntropyLoss(),
        train,
        val,
        epochs=3,
        metrics={"score": score},
        monitor="val_score",
        mode="max",
        restore_best=False,
        progress=False,
    )
    assert history.best_epoch == 1 and not history.stopped_early
    assert evaluate(model, val, nn.CrossEntropyLoss())["loss"] == pytest.approx(
        history["val_loss"][-1], rel=1e-6
    )


def test_gradient_clipping_records_pre_clip_norm_and_bounds_the_step():
    x, y = separable_data(32, seed=4)
    model = logistic_regression()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    start = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    loader = [(x, y)]  # one batch per epoch: one optimizer step
    history = fit(model, opt, nn.CrossEntropyLoss(), loader, epochs=1, clip_grad_norm=1e-3, progress=False)
    step = torch.cat([p.detach().flatten() for p in model.parameters()]) - start
    assert history["grad_norm"][0] > 1e-2  # the gradient before clipping ...
    assert step.norm().item() == pytest.approx(1e-3, rel=1e-3)  # ... was scaled down to norm 1e-3


def test_infinite_clip_records_norm_without_clipping():
    x, y = separable_data(32, seed=5)
    runs = []
    for clip in (None, float("inf")):
        model = logistic_regression()
        fit(
            model,
            torch.optim.SGD(model.parameters(), lr=1.0),
            nn.CrossEntropyLoss(),
            [(x, y)],
            epochs=2,
            clip_grad_norm=clip,
            progress=False,
        )
        runs.append(model.weight.detach().clone())
    torch.testing.assert_close(runs[0], runs[1])


def test_step_lr_scheduler_changes_recorded_lr(loaders):
    train, val = loaders
    model = logistic_regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(model, opt, nn.CrossEntropyLoss(), train, val, epochs=3, scheduler=sched, progress=False)
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)


def test_plateau_scheduler_gets_monitored_value(loaders):
    train, val = loaders

    class RecordingPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
        seen = []

        def step(self, metrics, *args, **kwargs):
            self.seen.append(metrics)
            return super().step(metrics, *args, **kwargs)

    model = logistic_regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = RecordingPlateau(opt, mode="max", factor=0.5, patience=0)
    history = fit(
        model,
        opt,
        nn.CrossEntropyLoss(),
        train,
        val,
        epochs=3,
        scheduler=sched,
        metrics={"score": ScriptedMetric([0.5, 0.4, 0.3])},
        monitor="val_score",
        mode="max",
        progress=False,
    )
    assert sched.seen == [0.5, 0.4, 0.3]
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05])


def test_batch_interval_scheduler_steps_every_batch():
    x, y = separable_data(20, seed=6)
    loader = DataLoader(TensorDataset(x, y), batch_size=5)  # 4 batches
    model = logistic_regression()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 / (1 + step))
    history = fit(
        model,
        opt,
        nn.CrossEntropyLoss(),
        loader,
        epochs=2,
        scheduler=sched,
        scheduler_interval="batch",
        progress=False,
    )
    assert history["lr"] == pytest.approx([1.0, 1 / 5])
    assert sched.last_epoch == 8


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2, 2), nn.Linear(3, 2)

    def forward(self, xa, xb):
        return self.a(xa) + self.b(xb)


def test_tuple_inputs_are_unpacked():
    torch.manual_seed(0)
    xa, xb = torch.randn(24, 2), torch.randn(24, 3)
    y = (xa[:, 0] + xb[:, 2] > 0).long()
    batches = [((xa[i : i + 8], xb[i : i + 8]), y[i : i + 8]) for i in range(0, 24, 8)]
    model = TwoInputs()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    history = fit(
        model,
        opt,
        nn.CrossEntropyLoss(),
        batches,
        batches,
        epochs=15,
        device="cpu",
        metrics={"accuracy": acc_metric},
        monitor="val_accuracy",
        mode="max",
        progress=False,
    )
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history.best_value >= 0.9
    outputs, targets = predict(model, batches)
    assert outputs.shape == (24, 2) and torch.equal(targets, y) and outputs.device.type == "cpu"


class NoLenLoader:
    """An iterable of batches that does not know its length (like an IterableDataset's loader)."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def test_progress_bar_runs(loaders, capsys):
    train, val = loaders
    model = logistic_regression()
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), train, val, epochs=2)
    err = capsys.readouterr().err
    assert "training" in err and "val_loss=" in err
    history = fit(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        nn.CrossEntropyLoss(),
        NoLenLoader(list(train)),
        epochs=1,
    )
    assert len(history) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_gpu_moves_model_and_batches(loaders, tmp_path):
    train, val = loaders
    model = logistic_regression()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    history = fit(
        model,
        opt,
        nn.CrossEntropyLoss(),
        train,
        val,
        epochs=3,
        device="cuda",
        metrics={"accuracy": acc_metric},
        progress=False,
    )
    assert next(model.parameters()).is_cuda and history["val_accuracy"][-1] > 0.5
    outputs, targets = predict(model, val)
    assert outputs.device.type == "cpu" and targets.device.type == "cpu"
    assert accuracy(outputs.cuda().argmax(-1), targets.cuda()) == pytest.approx(
        history["val_accuracy"][history.best_epoch - 1]
    )
    save_checkpoint(tmp_path / "m.pt", model, opt)
    cpu_model = logistic_regression(seed=5)
    load_checkpoint(tmp_path / "m.pt", cpu_model, map_location="cpu")
    torch.testing.assert_close(cpu_model.weight, model.weight.cpu())


def test_evaluate_restores_train_mode_and_does_not_update(loaders):
    _, val = loaders
    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    first = evaluate(model, val, nn.CrossEntropyLoss())
    assert first == evaluate(model, val, nn.CrossEntropyLoss())  # dropout off: deterministic
    assert model.training
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


# ----------------------------------------------------------------------------------------- fit errors
def test_nan_loss_names_epoch_and_batch(loaders):
    train, _ = loaders
    calls = {"n": 0}

    def exploding_loss(outputs, targets):
        calls["n"] += 1
        loss = F.cross_entropy(outputs, targets)
        return loss * float("nan") if calls["n"] == 8 else loss  # 6 batches per epoch: epoch 2, batch 2

    model = logistic_regression()
    with pytest.raises(FloatingPointError, match=r"epoch 2, batch 2.*smaller learning rate"):
        fit(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            exploding_loss,
            train,
            epochs=3,
            progress=False,
        )


def test_non_finite_gradient_norm_is_reported():
    model = logistic_regression()
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)

    def sqrt_loss(outputs, targets):  # finite at 0, but its gradient there is not
        return outputs.abs().sqrt().mean()

    x, y = separable_data(8, seed=0)
    with pytest.raises(FloatingPointError, match="gradient norm became .* epoch 1, batch 1"):
        fit(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            sqrt_loss,
            [(x, y)],
            epochs=1,
            clip_grad_norm=1.0,
            progress=False,
        )


def bad_fit(**overrides):
    model = logistic_regression()
    x, y = separable_data(8, seed=0)
    kwargs = {
        "model": model,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
        "loss_fn": nn.CrossEntropyLoss(),
        "train_loader": [(x, y)],
        "val_loader": [(x, y)],
        "epochs": 1,
        "progress": False,
    }
    kwargs.update(overrides)
    return fit(**kwargs)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1"),
        ({"epochs": 2.5}, ValueError, "epochs must be an int >= 1"),
        ({"mode": "avg"}, ValueError, "mode must be 'min'"),
        ({"patience": 0}, ValueError, "patience must be None"),
        ({"clip_grad_norm": 0.0}, ValueError, "clip_grad_norm must be"),
        (
            {"monitor": "val_acc"},
            ValueError,
            r"monitor='val_acc' is not recorded; choose one of \['train_loss'",
        ),
        ({"monitor": "val_loss", "val_loader": None, "patience": 1, "metrics": None}, None, None),
        ({"monitor": "val_accuracy", "val_loader": None}, ValueError, "need a val_loader"),
        ({"metrics": {"accuracy": acc_metric}, "val_loader": None}, ValueError, "pass val_loader"),
        ({"metrics": {"loss": acc_metric}}, ValueError, "other than 'loss'"),
        ({"train_loader": []}, ValueError, "yielded no batches"),
        ({"val_loader": []}, ValueError, "yielded no batches"),
        (
            {"train_loader": [(torch.zeros(2, 2), torch.zeros(2).long(), 1)]},
            TypeError,
            r"pair \(inputs, targets\)",
        ),
        ({"loss_fn": nn.CrossEntropyLoss(reduction="none")}, ValueError, "scalar tensor"),
        ({"optimizer": torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)}, ValueError, "does not hold"),
        ({"scheduler_interval": "step"}, ValueError, "'epoch' or 'batch'"),
    ],
)
def test_fit_rejects_bad_arguments(overrides, error, message):
    if error is None:  # the control case: without val_loader the default monitor falls back to train_loss
        assert bad_fit(**overrides).monitor == "train_loss"
        return
    with pytest.raises(error, match=message):
        bad_fit(**overrides)


def test_plateau_with_batch_interval_rejected():
    model = logistic_regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        bad_fit(
            model=model,
            optimizer=opt,
            scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau(opt),
            scheduler_interval="batch",
        )


# -------------------------------------------------------------------------------------------- History
def test_history_access_repr_and_dict_round_trip():
    history = History(
        epochs=[{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7}],
        monitor="train_loss",
        best_epoch=2,
        best_value=0.5,
    )
    assert history.keys() == ["epoch", "train_loss", "val_loss"]
    assert history["train_loss"] == [1.0, 0.5]
    assert math.isnan(history["val_loss"][0])
    assert "val_loss" in history and "bleu" not in history
    with pytest.raises(KeyError, match="recorded keys"):
        history["bleu"]
    assert repr(history) == "History(2 epochs; keys: train_loss, val_loss; best train_loss=0.5 at epoch 2)"
    assert repr(History()) == "History(0 epochs)"
    again = History.from_dict(history.to_dict())
    assert again == history and again.epochs is not history.epochs


# ---------------------------------------------------------------------------------------- checkpoints
def adam_step(model, opt, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(8, 2, generator=g), torch.randint(0, 2, (8,), generator=g)
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


def test_checkpoint_round_trip(tmp_path):
    model = logistic_regression(seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    adam_step(model, opt, seed=0)
    history = History(epochs=[{"epoch": 1, "train_loss": 0.25}], monitor="train_loss")
    extra = {
        "epoch": 3,
        "config": {"hidden": 16, "dropout": 0.1, "tags": ["a", "b"]},
        "history": history.to_dict(),
    }
    path = save_checkpoint(tmp_path / "ckpts" / "model.pt", model, opt, **extra)
    assert path.is_file() and os.listdir(path.parent) == ["model.pt"]  # no temp files left behind

    model2 = logistic_regression(seed=2)
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.5)
    loaded = load_checkpoint(path, model2, opt2)
    assert loaded == extra
    assert History.from_dict(loaded["history"]) == history
    x = torch.randn(5, 2)
    torch.testing.assert_close(model2(x), model(x), rtol=0, atol=0)
    assert opt2.param_groups[0]["lr"] == 0.01
    # the optimizer state (Adam moments, step count) came back: one more step gives identical weights
    adam_step(model, opt, seed=1)
    adam_step(model2, opt2, seed=1)
    for p, q in zip(model.parameters(), model2.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_checkpoint_without_optimizer(tmp_path):
    model = logistic_regression(seed=1)
    save_checkpoint(tmp_path / "m.pt", model)
    model2 = logistic_regression(seed=2)
    assert load_checkpoint(tmp_path / "m.pt", model2) == {}
    torch.testing.assert_close(model2.weight, model.weight)
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(tmp_path / "m.pt", model2, torch.optim.SGD(model2.parameters(), lr=0.1))


def test_failed_save_keeps_old_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    old = logistic_regression(seed=1)
    save_checkpoint(path, old, epoch=1)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, logistic_regression(seed=2), epoch=2)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.pt"]
    model = logistic_regression(seed=3)
    assert load_checkpoint(path, model) == {"epoch": 1}
    torch.testing.assert_close(model.weight, old.weight)


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"best": np.float64(0.5)}, "'best'"),
        ({"config": {"vocab": {"a", "b"}}}, r"'config'\['vocab'\]"),
        ({"log": [1, 2, object()]}, r"'log'\[2\]"),
    ],
)
def test_checkpoint_rejects_non_plain_extras(tmp_path, extra, where):
    with pytest.raises(TypeError, match=where + ".*plain Python values"):
        save_checkpoint(tmp_path / "m.pt", logistic_regression(), **extra)
    assert not os.listdir(tmp_path)


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="save_checkpoint"):
        load_checkpoint(tmp_path / "missing.pt", logistic_regression())
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "other.pt", logistic_regression())
    save_checkpoint(tmp_path / "m.pt", logistic_regression())
    with pytest.raises(RuntimeError, match="same hyperparameters"):
        load_checkpoint(tmp_path / "m.pt", nn.Linear(3, 2))


# ----------------------------------------------------------------------------------- count_parameters
def test_count_parameters():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 3))
    assert count_parameters(model) == 10 * 4 + 4 * 3 + 3
    model[0].weight.requires_grad_(False)
    assert count_parameters(model) == 15
    assert count_parameters(model, trainable_only=False) == 55
    tied = nn.Linear(4, 4, bias=False)
    shared = nn.Sequential(tied, tied)
    assert count_parameters(shared) == 16


def test_fit_and_evaluate_under_bfloat16_autocast(loaders):
    """autocast_dtype runs the forward pass in bfloat16 (seen by a hook) and still learns."""
    train, val = loaders
    model = logistic_regression()
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    history = fit(
        model, torch.optim.SGD(model.parameters(), lr=0.5), nn.CrossEntropyLoss(), train, val,
        epochs=4, progress=False, autocast_dtype=torch.bfloat16,
    )  # fmt: skip
    assert set(seen) == {torch.bfloat16}
    assert history["train_loss"][-1] < 0.7 * history["train_loss"][0]
    seen.clear()
    evaluate(model, val, nn.CrossEntropyLoss(), autocast_dtype=torch.bfloat16)
    evaluate(model, val, nn.CrossEntropyLoss())
    assert torch.bfloat16 in seen and torch.float32 in seen
    with pytest.raises(ValueError, match="autocast_dtype must be None, torch.bfloat16 or torch.float16"):
        evaluate(model, val, nn.CrossEntropyLoss(), autocast_dtype=torch.float64)


# ------------------------------------------------------------------------------- loss reduction="sum"
def test_sum_reduction_loss_is_reported_as_per_example_mean():
    x, y = separable_data(10, seed=3)
    model = logistic_regression()
    loader = DataLoader(TensorDataset(x, y), batch_size=4)  # batches of 4, 4, 2
    history = fit(
        model,
        torch.optim.SGD(model.parameters(), lr=0.0),
        nn.CrossEntropyLoss(reduction="sum"),
        loader,
        loader,
        epochs=1,
        progress=False,
    )
    with torch.no_grad():
        full = F.cross_entropy(model(x), y).item()
    assert history["train_loss"][0] == pytest.approx(full, rel=1e-6)
    assert history["val_loss"][0] == pytest.approx(full, rel=1e-6)
    assert evaluate(model, loader, nn.CrossEntropyLoss(reduction="sum"))["loss"] == pytest.approx(
        full, rel=1e-6
    )


def test_sum_reduction_with_ignore_index_gives_per_token_mean():
    model, batches = Tagger(), token_batches()
    mean = evaluate(model, batches, TokenCE(ignore_index=0))["loss"]
    summed = evaluate(model, batches, TokenCE(ignore_index=0, reduction="sum"))["loss"]
    assert summed == pytest.approx(mean, rel=1e-6)
    history = fit(
        model,
        torch.optim.SGD(model.parameters(), lr=0.0),
        TokenCE(ignore_index=0, reduction="sum"),
        batches,
        epochs=1,
        progress=False,
    )
    assert history["train_loss"][0] == pytest.approx(mean, rel=1e-6)


def test_sum_reduction_trains_on_the_sum():
    """The gradient is that of the summed loss (the user's choice), only the report is a mean."""
    x, y = separable_data(8, seed=4)
    grads = {}
    for reduction in ("mean", "sum"):
        model = logistic_regression()
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        before = model.weight.detach().clone()
        fit(model, opt, nn.CrossEntropyLoss(reduction=reduction), [(x, y)], epochs=1, progress=False)
        grads[reduction] = before - model.weight.detach()
    torch.testing.assert_close(grads["sum"], grads["mean"] * len(y))


@pytest.mark.parametrize("entry", ["fit", "evaluate"])
def test_loss_without_reduction_is_refused_up_front(entry):
    model = logistic_regression()
    x, y = separable_data(8, seed=0)
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    with pytest.raises(ValueError, match=r"loss_fn has reduction='none'.*reduction='mean'"):
        if entry == "fit":
            fit(
                model,
                torch.optim.SGD(model.parameters(), lr=0.1),
                loss_fn,
                [(x, y)],
                epochs=1,
                progress=False,
            )
        else:
            evaluate(model, [(x, y)], loss_fn)


def test_non_callable_loss_and_bad_model_or_optimizer_are_named():
    model = logistic_regression()
    x, y = separable_data(8, seed=0)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        evaluate(model, [(x, y)], "cross_entropy")
    with pytest.raises(TypeError, match="evaluate needs model to be an nn.Module"):
        evaluate(lambda t: t, [(x, y)], nn.CrossEntropyLoss())
    with pytest.raises(TypeError, match="fit needs optimizer to be a torch.optim.Optimizer"):
        fit(model, "adam", nn.CrossEntropyLoss(), [(x, y)], epochs=1, progress=False)


# ----------------------------------------------------------------------- checkpoints: bad input
def two_layers(out=3, extra=False):
    torch.manual_seed(0)
    layers = [nn.Linear(2, 2), nn.Linear(2, out)] + ([nn.Linear(out, 1)] if extra else [])
    return nn.Sequential(*layers)


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_untouched(model, before):
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("saved", "loaded", "message"),
    [
        (
            two_layers(out=4),
            two_layers(out=3),
            r"1\.weight: shape \[4, 2\] in the checkpoint, \[3, 2\] in the model",
        ),
        (two_layers(), two_layers(extra=True), r"missing from the checkpoint: \['2\.weight', '2\.bias'\]"),
        (
            two_layers(extra=True),
            two_layers(),
            r"in the checkpoint but not in the model: \['2\.weight', '2\.bias'\]",
        ),
    ],
    ids=["shape", "missing", "unexpected"],
)
def test_load_checkpoint_that_does_not_fit_leaves_the_model_untouched(tmp_path, saved, loaded, message):
    with torch.no_grad():
        for p in saved.parameters():
            p.fill_(7.0)  # every saved value differs from the model's
    save_checkpoint(tmp_path / "m.pt", saved)
    before = snapshot(loaded)
    with pytest.raises(RuntimeError, match=message) as err:
        load_checkpoint(tmp_path / "m.pt", loaded)
    assert "m.pt" in str(err.value) and "nothing was loaded" in str(err.value)
    assert_untouched(loaded, before)


def test_load_checkpoint_with_unfitting_optimizer_leaves_both_untouched(tmp_path):
    saved = two_layers()
    save_checkpoint(tmp_path / "m.pt", saved, torch.optim.SGD(saved.parameters(), lr=0.1))
    save_checkpoint(tmp_path / "no_opt.pt", saved)
    model = two_layers()
    with torch.no_grad():
        model[0].weight.fill_(3.0)
    before = snapshot(model)
    two_groups = torch.optim.SGD(
        [{"params": model[0].parameters()}, {"params": model[1].parameters()}], lr=0.5
    )
    with pytest.raises(ValueError, match=r"optimizer state in .*m\.pt.* does not fit.*\[4\].*\[2, 2\]"):
        load_checkpoint(tmp_path / "m.pt", model, two_groups)
    assert_untouched(model, before)
    assert two_groups.param_groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(tmp_path / "no_opt.pt", model, two_groups)
    assert_untouched(model, before)


def truncated_checkpoint(path):
    save_checkpoint(path, logistic_regression())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_text("epoch 3, loss 0.25\n"), "cannot read"),
        (lambda p: p.write_text('{"model": {}}'), "cannot read"),
        (lambda p: p.write_bytes(bytes(range(256)) * 4), "cannot read"),
        (truncated_checkpoint, "cannot read"),
        (lambda p: torch.save([1, 2, 3], p), "not a checkpoint"),
        (lambda p: torch.save({"model": [1, 2]}, p), "not a checkpoint"),
    ],
    ids=["empty", "text", "json", "binary", "truncated", "list", "model-not-a-dict"],
)
def test_load_checkpoint_unreadable_files_name_the_file(tmp_path, write, message):
    path = tmp_path / "broken.pt"
    write(path)
    model = logistic_regression()
    before = snapshot(model)
    with pytest.raises(ValueError, match=message) as err:
        load_checkpoint(path, model)
    assert str(path) in str(err.value)
    assert_untouched(model, before)


def test_checkpoint_paths_and_arguments_are_checked(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save_checkpoint(tmp_path, logistic_regression())
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_checkpoint(tmp_path, logistic_regression())
    with pytest.raises(TypeError, match="save_checkpoint needs model to be an nn.Module"):
        save_checkpoint(tmp_path / "m.pt", {"weight": torch.zeros(2)})
    with pytest.raises(TypeError, match="optimizer to be None or a torch.optim.Optimizer"):
        save_checkpoint(tmp_path / "m.pt", logistic_regression(), "adam")
    save_checkpoint(tmp_path / "m.pt", logistic_regression())
    with pytest.raises(TypeError, match="load_checkpoint needs model to be an nn.Module"):
        load_checkpoint(tmp_path / "m.pt", None)
    with pytest.raises(ValueError, match="map_location='gpu' is not a device"):
        load_checkpoint(tmp_path / "m.pt", logistic_regression(), map_location="gpu")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_checkpoint_gets_normal_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "m.pt", logistic_regression())
        save_checkpoint(tmp_path / "m.pt", logistic_regression(), epoch=2)  # replacing keeps them too
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode
    assert os.listdir(tmp_path) == ["m.pt"]
    assert load_checkpoint(path, logistic_regression()) == {"epoch": 2}
