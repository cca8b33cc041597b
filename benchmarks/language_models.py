"""Train notebook 07's language models with their full recipes and report test perplexities.

    .venv/bin/python benchmarks/language_models.py                 # the recipes of notebook 07
    .venv/bin/python benchmarks/language_models.py --lstm-epochs 10 # a longer LSTM run
    COURSE_PROFILE=quick .venv/bin/python benchmarks/language_models.py   # a tiny run, seconds

All models are scored on notebook 02's test set (Multi30k English, spaCy tokens, lower-cased, min_freq=2,
every word and one <eos> per sentence predicted). Prints the recipes, then ``name: value`` lines, last:
``ppl_kn4`` (interpolated Kneser-Ney 4-gram, D chosen on val), ``ppl_ffnn`` (Bengio et al.'s feed-forward
model), ``ppl_lstm``, ``ppl_interpolated`` (LSTM + KN4, weight chosen on val) and ``train_seconds_lstm``.
"""

from __future__ import annotations

import argparse

import torch

import course_utils as cu
from course_utils import ngram
from course_utils.lm import (
    FFNN_LM,
    LSTM_LM,
    RNNLM,
    FeedForwardLM,
    interpolate_logprobs,
    lm_perplexity,
    lm_token_logprobs,
    load_lm_data,
    perplexity_of,
    train_lm,
    tune_interpolation,
)
from course_utils.runtime import autocast_dtype
from course_utils.train import count_parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lstm-epochs", type=int, default=None, help="override the LSTM recipe's epochs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device, _ = cu.setup(seed=args.seed)
    dtype = autocast_dtype(device)
    data = load_lm_data(**cu.by_profile(quick=dict(max_train=500), full={}))
    vocab = data.vocab
    common = dict(pad_idx=vocab.pad_idx, never_predict=data.never_predict)

    kn4 = ngram.KneserNey(4).fit(data.tokens["train"], vocab)
    by_discount = {}
    for discount in (0.6, 0.7, 0.8, 0.9, 1.0):
        kn4.discount = discount
        by_discount[discount] = kn4.perplexity(data.tokens["val"])
    kn4.discount = min(by_discount, key=by_discount.get)

    ffnn_recipe = dict(FFNN_LM, epochs=cu.by_profile(quick=1, full=FFNN_LM["epochs"]))
    lstm_recipe = dict(LSTM_LM, epochs=args.lstm_epochs or cu.by_profile(quick=1, full=LSTM_LM["epochs"]))
    if cu.get_profile() == "quick":
        ffnn_recipe.update(emb_dim=16, hidden_size=32)
        lstm_recipe.update(emb_dim=32, hidden_size=32)
    print(f"feed-forward: {ffnn_recipe}\nLSTM: {lstm_recipe}\nautocast: {dtype}", flush=True)

    torch.manual_seed(args.seed)
    ffnn_epochs, ffnn_batch = ffnn_recipe.pop("epochs"), ffnn_recipe.pop("batch_size")
    ffnn = FeedForwardLM(len(vocab), bos_idx=vocab.bos_idx, **ffnn_recipe, **common).to(device)
    train_lm(ffnn, data, epochs=ffnn_epochs, batch_size=ffnn_batch, autocast_dtype=dtype, progress=False)

    torch.manual_seed(args.seed)
    lstm_train = {key: lstm_recipe.pop(key) for key in ("epochs", "batch_size", "lr")}
    lstm = RNNLM(len(vocab), **lstm_recipe, **common).to(device)
    history = train_lm(lstm, data, **lstm_train, autocast_dtype=dtype, progress=False)

    kn_val = torch.from_numpy(kn4.token_logprobs(data.tokens["val"]))
    kn_test = torch.from_numpy(kn4.token_logprobs(data.tokens["test"]))
    weight, _ = tune_interpolation(lm_token_logprobs(lstm, data, "val"), kn_val)
    mixture = perplexity_of(interpolate_logprobs(lm_token_logprobs(lstm, data, "test"), kn_test, weight))

    print(f"kn4_discount: {kn4.discount}")
    print(f"params_ffnn: {count_parameters(ffnn)}")
    print(f"params_lstm: {count_parameters(lstm)}")
    print(f"val_ppl_lstm: {lm_perplexity(lstm, data, 'val'):.2f}")
    print(f"interpolation_weight_lstm: {weight}")
    print(f"ppl_kn4: {perplexity_of(kn_test):.2f}")
    print(f"ppl_ffnn: {lm_perplexity(ffnn, data, 'test'):.2f}")
    print(f"ppl_lstm: {lm_perplexity(lstm, data, 'test'):.2f}")
    print(f"ppl_interpolated: {mixture:.2f}")
    print(f"train_seconds_lstm: {history.seconds:.0f}")


if __name__ == "__main__":
    main()
