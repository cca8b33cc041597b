"""Look inside one translation: the beam's candidates with their scores, and where the model attends.

* :func:`explain` - translate one German sentence with beam search and return an :class:`Explanation`:
  the candidates (best first) with their log-probabilities and scores, and, for models whose decoding
  state carries attention weights, the attention map of the best candidate;
* :func:`show_explanation` - print the candidates and draw the heatmap (a static output, which survives
  in a saved notebook and under nbval);
* :func:`translation_explorer` - an ipywidgets box: type a German sentence, press Enter or the button,
  and see the same for it. Notebook 09 uses it for the attention model, notebook 10 for the Transformer:
  any model with the course's decoding interface (``start`` / ``step``) works.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from course_utils.decoding import LENGTH_PENALTIES, beam_search
from course_utils.plot import plot_matrix
from course_utils.rnn import _check_positive_int
from course_utils.text import pad_batch
from course_utils.translation import TranslationData, _check_decoder, attention_map

__all__ = ["Candidate", "Explanation", "explain", "show_explanation", "translation_explorer"]


@dataclass(frozen=True)
class Candidate:
    """One beam-search output: English tokens, log P (with ``<eos>``), the score it was ranked by."""

    tokens: list[str]
    log_prob: float
    score: float
    finished: bool

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found for one sentence; ``attention`` is None for models without attention."""

    sentence: str
    source_tokens: list[str]
    candidates: list[Candidate]
    attention: Tensor | None  # (T_out, S) for the best candidate, rows ending with the <eos> step
    output_tokens: list[str] | None  # the best candidate's tokens and <eos>, the heatmap's rows

    @property
    def translation(self) -> str:
        return self.candidates[0].text if self.candidates else ""


@torch.no_grad()
def explain(
    model: torch.nn.Module,
    data: TranslationData,
    sentence: str,
    *,
    beam_size: int = 5,
    n_best: int | None = None,
    length_penalty: str = "average",
    max_len: int = 60,
) -> Explanation:
    """Beam-search ``sentence`` (a German string) and keep the ``n_best`` candidates (default: the whole beam)."""
    _check_decoder(model)
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"give one German sentence as a non-empty str, got {sentence!r}")
    _check_positive_int(beam_size, "beam_size")
    n_best = beam_size if n_best is None else n_best
    _check_positive_int(n_best, "n_best")
    if n_best > beam_size:
        raise ValueError(f"n_best={n_best} cannot exceed beam_size={beam_size}")
    if length_penalty not in LENGTH_PENALTIES:
        raise ValueError(f"length_penalty must be one of {LENGTH_PENALTIES}, got {length_penalty!r}")
    src_ids = data.encode_source(sentence)
    device = next(model.parameters()).device
    src, src_len = pad_batch([src_ids], data.src_vocab.pad_idx)
    was_training = model.training
    model.eval()
    try:
        hyps = beam_search(
            model, (src.to(device), src_len), bos=data.tgt_vocab.bos_idx, eos=data.tgt_vocab.eos_idx,
            beam_size=beam_size, max_len=max_len, length_penalty=length_penalty, n_best=n_best,
        )[0]  # fmt: skip
        has_attention = hasattr(model.start(src.to(device), src_len), "weights")
    finally:
        model.train(was_training)
    candidates = [Candidate(data.decode_target(h.tokens), h.log_prob, h.score, h.finished) for h in hyps]
    source_tokens = data.src_vocab.decode(src_ids, skip_specials=False)
    attention = output_tokens = None
    if has_attention and candidates:
        source_tokens, output_tokens, attention = attention_map(
            model, sentence, data, target=candidates[0].tokens
        )
    return Explanation(sentence, source_tokens, candidates, attention, output_tokens)


def show_explanation(explanation: Explanation, *, ax=None) -> None:
    """Print the candidates (best first) and draw the attention heatmap of the best one, if any."""
    if not isinstance(explanation, Explanation):
        raise TypeError(f"show_explanation takes what explain() returns, got {type(explanation).__name__}")
    print("German:", explanation.sentence)
    print("the model reads:", " ".join(explanation.source_tokens))
    print(f"{'score':>7} {'log P':>7}  candidate")
    for c in explanation.candidates:
        print(f"{c.score:7.3f} {c.log_prob:7.2f}  {c.text}{'' if c.finished else '  (cut at max_len)'}")
    if explanation.attention is not None:
        plot_matrix(
            explanation.attention, explanation.output_tokens, explanation.source_tokens, ax=ax,
            xlabel="German tokens (as the model reads them)", ylabel="English output",
            title="attention while writing each word", vmin=0.0, vmax=1.0,
        )  # fmt: skip
        if ax is None:
            plt.show()


def translation_explorer(
    model: torch.nn.Module, data: TranslationData, *, example: str, beam_size: int = 5
):  # -> ipywidgets.VBox (imported lazily: the rest of the course does not need ipywidgets)
    """An interactive box: a text field with ``example`` in it, a button, and the explanation below."""
    import ipywidgets as widgets

    _check_decoder(model)
    _check_positive_int(beam_size, "beam_size")
    text = widgets.Text(
        value=example, description="German:", continuous_update=False, layout=widgets.Layout(width="80%")
    )
    button = widgets.Button(description="Translate")
    out = widgets.Output()

    def run(_=None) -> None:
        out.clear_output()
        with out:
            try:
                show_explanation(explain(model, data, text.value, beam_size=beam_size))
            except ValueError as err:  # an empty sentence and the like: say so in the box
                print(f"cannot translate: {err}")

    text.observe(run, names="value")  # Enter (or leaving the field) after an edit
    button.on_click(run)
    run()
    return widgets.VBox([widgets.HBox([text, button]), out])
