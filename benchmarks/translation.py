"""Train one translation model of notebooks 08-10 with its full recipe and report its scores.

    .venv/bin/python benchmarks/translation.py attention            # Bahdanau attention, the headline model
    .venv/bin/python benchmarks/translation.py gru-context --epochs 4
    .venv/bin/python benchmarks/translation.py transformer          # notebook 10, with its key/value cache
    COURSE_PROFILE=quick .venv/bin/python benchmarks/translation.py lstm   # a tiny run, seconds

Models: see ``course_utils.seq2seq.MODELS``. Prints the model and recipe, then ``name: value`` lines; for a
model with a key/value cache (the Transformer) ``greedy_seconds_cache``, ``greedy_seconds_recompute`` and
``cache_speedup`` (greedy decoding of the test set, same outputs checked); last: ``params``, ``train_seconds``, ``val_ppl``, ``bleu_greedy``, ``bleu_beam`` (test2016, lower-cased
spaCy tokens, the tutorials' convention).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import course_utils as cu
from course_utils.runtime import autocast_dtype
from course_utils.seq2seq import MODELS, make_model
from course_utils.train import count_parameters
from course_utils.translation import (
    bleu_on,
    load_translation_data,
    perplexity,
    train_translation,
    translate_corpus,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--beam", type=int, default=5, help="beam size for bleu_beam")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device, _ = cu.setup(seed=args.seed)
    spec = MODELS[args.model]
    data = load_translation_data(
        reverse_source=spec.reverse_source, max_train=cu.by_profile(quick=2000, full=None)
    )
    recipe = dataclasses.replace(
        spec.recipe,
        seed=args.seed,
        epochs=args.epochs or cu.by_profile(quick=1, full=spec.recipe.epochs),
    )
    model = make_model(args.model, data).to(device)
    dtype = autocast_dtype(device)
    print(f"model: {args.model} ({type(model).__name__}) | {recipe} | autocast: {dtype}", flush=True)

    start = time.perf_counter()
    train_translation(model, data, recipe, autocast_dtype=dtype)
    train_seconds = time.perf_counter() - start
    # evaluation and decoding in float32 (the weights are float32): cached and recomputed decoding then do
    # the same arithmetic, where bfloat16 rounding could flip a beam's choice
    ppl = perplexity(model, data, "val")
    greedy, _ = bleu_on(model, data, "test")
    beam, _ = bleu_on(model, data, "test", beam_size=args.beam, length_penalty="average")
    if hasattr(model, "use_cache"):
        sources, seconds, outputs = [s for s, _ in data.examples["test"]], {}, {}
        for use_cache in (True, False):
            model.use_cache = use_cache
            start = time.perf_counter()
            outputs[use_cache] = translate_corpus(model, sources, data)
            seconds[use_cache] = time.perf_counter() - start
        model.use_cache = True
        if outputs[True] != outputs[False]:
            raise AssertionError("decoding with the key/value cache changed the outputs")
        print(f"greedy_seconds_cache: {seconds[True]:.1f}")
        print(f"greedy_seconds_recompute: {seconds[False]:.1f}")
        print(f"cache_speedup: {seconds[False] / seconds[True]:.2f}")
    print(f"greedy: {greedy}")
    print(f"beam {args.beam}: {beam}")
    print(f"params: {count_parameters(model)}")
    print(f"train_seconds: {train_seconds:.0f}")
    print(f"val_ppl: {ppl:.2f}")
    print(f"bleu_greedy: {greedy.score:.2f}")
    print(f"bleu_beam: {beam.score:.2f}")


if __name__ == "__main__":
    main()
