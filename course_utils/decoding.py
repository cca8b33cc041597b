"""One decoding interface for every autoregressive model, and the searches built on it.

Every model of the course that writes text one token at a time (the RNN encoder-decoders with and
without attention, later the Transformer and the language models) has the same two methods::

    state = model.start(*inputs)             # encode once, e.g. model.start(src, src_len)
    logp, state = model.step(tokens, state)  # tokens (B,) long -> logp (B, V) float, the new state

``tokens`` are the previous output tokens (``<bos>`` at the first step) and ``logp`` the
log-probabilities of the next token: each row of ``logp.exp()`` sums to 1, so ``step`` returns
``torch.log_softmax(logits, dim=-1)``, not the logits. The state is whatever the model carries (an
RNN's hidden state with the encoder outputs and the source mask; a Transformer's memory and its
key/value cache). So ONE greedy search, ONE beam search and ONE sampler serve every model:

* :class:`Decoder` - the interface as a ``typing.Protocol`` (for documentation and type hints);
* :func:`greedy_decode` - the most likely next token at every step;
* :func:`beam_search` - batched beam search (束搜索) with length penalties, returning
  :class:`Hypothesis` objects (``LENGTH_PENALTIES`` lists the modes);
* :func:`sample` - ancestral sampling with temperature, top-k and top-p (nucleus), on top of
  :func:`filter_logits`;
* :func:`select_state` - picks / repeats rows of a state, which is how beam search reorders it.

What a model author must know:

* ``start`` receives exactly the tuple ``inputs`` passed to the search. The batch size B is the size of
  dim 0 of the first tensor in ``inputs``; the first tokens are created on that tensor's device.
* ``step`` may be called on any number of rows in any order: B rows at first, B*K during beam search
  (fewer once some sentences are done), rows repeated or dropped between calls. Every tensor in a state
  must therefore be batch first (B, ...) - e.g. store an RNN's (L, B, H) hidden state as (B, L, H) - or
  sit in an object with its own ``select(index)`` method. Non-tensor leaves (ints, floats, strings) are
  shared by all rows and kept as they are. See :func:`select_state` for what a state may contain.
* ``step`` must accept any token id in [0, V): rows that have finished (or dead beams) keep being fed
  tokens, e.g. ``<eos>``, until the whole batch is done; their outputs are ignored.
* The searches run under ``torch.no_grad()`` but do not change the model's mode: call ``model.eval()``.
* ``step`` output is checked at every step (shape, NaN, rows of ``exp`` summing to 1), and an error
  says what ``step`` returned and what was expected.

Shape legend: B batch, T time, V vocabulary, K beam size; A sentences still searched (beam search),
R = rows given to ``model.step`` (B, or A*K).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from course_utils.rnn import _check_positive_int, _multinomial

__all__ = [
    "Decoder",
    "Hypothesis",
    "LENGTH_PENALTIES",
    "beam_search",
    "filter_logits",
    "greedy_decode",
    "sample",
    "select_state",
]

#: ``beam_search(length_penalty=...)``: rank by log P; by log P / length; by GNMT's log P / ((5 + length) / 6) ** alpha
LENGTH_PENALTIES = ("none", "average", "gnmt")

_LOGP_ATOL = (
    1e-2  # how far a row of exp(logp) may sum from 1 (bfloat16 autocast rounds each probability by ~0.4%)
)
_TOP_P_TOL = 1e-6  # nucleus mass that counts as "reached p" despite rounding (0.4 + 0.3 may sum to 0.6999999)
_SHARED_LEAVES = (bool, int, float, complex, str, bytes, torch.dtype, torch.device)


@runtime_checkable
class Decoder(Protocol):
    """What :func:`greedy_decode`, :func:`beam_search` and :func:`sample` need from a model."""

    def start(self, *inputs: Any) -> Any:
        """Encode the inputs (e.g. ``src`` (B, S), ``src_len`` (B,)) once; return the initial state."""
        ...

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Previous tokens (B,) long -> next-token log-probabilities (B, V) and the new state."""
        ...


@dataclass(frozen=True)
class Hypothesis:
    """One output of :func:`beam_search`.

    ``tokens`` without ``<bos>`` / ``<eos>``; ``log_prob`` the sum of the log-probabilities of its tokens,
    including the ``<eos>`` step when ``finished``; ``score`` what the search ranked it by (``log_prob``
    under the chosen length penalty); ``finished`` False for a hypothesis cut at ``max_len``.
    """

    tokens: list[int]
    log_prob: float
    score: float
    finished: bool


# ----------------------------------------------------------------------------------------------------
# Checks


def _describe(x: object) -> str:
    if isinstance(x, Tensor):
        return f"a {str(x.dtype).replace('torch.', '')} tensor of shape {tuple(x.shape)}"
    if isinstance(x, tuple):
        return f"a tuple of {len(x)}"
    return f"a {type(x).__name__}"


def _check_model(model: object, who: str) -> None:
    missing = [name for name in ("start", "step") if not callable(getattr(model, name, None))]
    if missing:
        raise TypeError(
            f"{who}: {type(model).__name__} has no {' and no '.join(m + '()' for m in missing)}; a model must "
            "implement the decoding interface state = model.start(*inputs) and logp, state = "
            "model.step(tokens, state) (see course_utils.decoding)"
        )


def _batch_of(inputs: object, who: str) -> tuple[int, torch.device]:
    """B and the device of the first tensor in ``inputs``."""
    if not isinstance(inputs, (tuple, list)):
        hint = "; wrap a single tensor as (src,)" if isinstance(inputs, Tensor) else ""
        raise TypeError(
            f"{who}: inputs must be the tuple of arguments of model.start, e.g. (src, src_len), "
            f"got {_describe(inputs)}{hint}"
        )
    for x in inputs:
        if isinstance(x, Tensor):
            if x.dim() == 0:
                raise ValueError(
                    f"{who}: the first tensor in inputs must have the batch as dim 0, got a 0-d tensor"
                )
            return x.shape[0], x.device
    got = ", ".join(type(x).__name__ for x in inputs) or "nothing"
    raise ValueError(
        f"{who}: inputs must contain a tensor whose dim 0 is the batch (e.g. src (B, S)), got {got}"
    )


def _check_token_id(value: object, name: str, who: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{who}: {name} must be a token id (an int >= 0), got {value!r}")


def _first_tokens(bos: int | Tensor, B: int, device: torch.device, who: str) -> Tensor:
    """The tokens of the first step: (B,) long."""
    if isinstance(bos, Tensor):
        if bos.dim() != 1 or bos.shape[0] != B or bos.dtype.is_floating_point or bos.dtype.is_complex:
            raise ValueError(
                f"{who}: bos must be an int or a (B,) = ({B},) tensor of integer token ids, got {_describe(bos)}"
            )
        if B and int(bos.min()) < 0:
            raise ValueError(f"{who}: bos holds a negative token id ({int(bos.min())})")
        return bos.to(device=device, dtype=torch.long)
    _check_token_id(bos, "bos", who)
    return torch.full((B,), bos, dtype=torch.long, device=device)


def _check_vocab(bos: int | Tensor, eos: int, V: int, who: str) -> None:
    """After the first step, when V is known: bos and eos must be token ids of the model."""
    top = int(bos.max()) if isinstance(bos, Tensor) else bos
    for name, value in (("eos", eos), ("bos", top)):
        if value >= V:
            raise ValueError(
                f"{who}: {name} = {value} is not a token of the model, whose step returned V = {V}"
            )


def _check_step(out: object, rows: int, V: int | None, who: str) -> tuple[Tensor, Any]:
    """What ``model.step`` returned must be (logp (rows, V) float log-probabilities, state)."""
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError(
            f"{who}: model.step(tokens, state) must return a pair (logp, state), got {_describe(out)}"
        )
    logp, state = out
    if (
        not isinstance(logp, Tensor)
        or not logp.is_floating_point()
        or logp.dim() != 2
        or logp.shape[0] != rows
        or logp.shape[1] == 0
        or (V is not None and logp.shape[1] != V)
    ):
        expected = f"({rows}, {V})" if V is not None else f"({rows}, V)"
        raise ValueError(
            f"{who}: model.step was given {rows} tokens and must return float log-probabilities of shape "
            f"(B, V) = {expected}, got {_describe(logp)}"
        )
    sums = logp.float().exp().sum(dim=-1)  # (R,)
    worst = float((sums - 1).abs().max())  # one synchronisation; NaN if any log-probability is NaN
    if math.isnan(worst):
        bad = int(torch.isnan(logp).any(dim=-1).sum())
        raise ValueError(
            f"{who}: model.step returned NaN log-probabilities in {bad} of {rows} rows; expected finite "
            "values or -inf (look for a division by zero or an all-masked softmax)"
        )
    if worst > _LOGP_ATOL:
        raise ValueError(
            f"{who}: model.step must return log-probabilities (each row of exp(logp) sums to 1), but its rows "
            f"sum to between {float(sums.min()):.4g} and {float(sums.max()):.4g} after exp; return "
            "torch.log_softmax(logits, dim=-1), not logits or probabilities"
        )
    return logp, state


def _check_top_k(top_k: int | None, V: int | None, who: str) -> None:
    if top_k is None:
        return
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1 or (V is not None and top_k > V):
        where = f"[1, V] = [1, {V}]" if V is not None else "[1, V]"
        raise ValueError(f"{who}: top_k must be None or an int in {where}, got {top_k!r}")


def _check_top_p(top_p: float | None, who: str) -> None:
    if top_p is None:
        return
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise ValueError(f"{who}: top_p must be None or a probability in (0, 1], got {top_p!r}")


def _wide(device: torch.device) -> torch.dtype:
    """float64 for running sums of log-probabilities, except on Apple's MPS, which has none."""
    return torch.float32 if device.type == "mps" else torch.float64


# ----------------------------------------------------------------------------------------------------
# States


def select_state(state: Any, index: Tensor) -> Any:
    """Rows ``index`` (a 1-D long tensor; repeats allowed) of every tensor in a decoder state.

    Handles, recursively and keeping each container's type: None; tensors (``index_select`` along dim
    0 - by contract every tensor in a state is batch first); tuples, NamedTuples, lists, dicts and
    dataclass instances; any other object with its own ``select(index)`` method (called). Numbers,
    strings, dtypes and devices are shared by all rows and returned as they are.
    """
    if not isinstance(index, Tensor) or index.dim() != 1 or index.dtype not in (torch.long, torch.int):
        raise ValueError(
            f"select_state: index must be a 1-D tensor of row numbers (long), got {_describe(index)}"
        )
    return _select(state, index, "state", None)


def _select(state: Any, index: Tensor, path: str, rows: int | None) -> Any:
    """:func:`select_state`; ``path`` names the part for error messages, ``rows`` is the batch size if known."""
    if state is None or isinstance(state, _SHARED_LEAVES):
        return state
    if isinstance(state, Tensor):
        if state.dim() == 0 or (rows is not None and state.shape[0] != rows):
            batch = f"the batch has {rows} rows" if rows is not None else "it has no batch dimension"
            raise ValueError(
                f"select_state: {path} has shape {tuple(state.shape)} but {batch}; every tensor in a decoder "
                "state must be batch first (B, ...), e.g. store an RNN's (L, B, H) hidden state as (B, L, H)"
            )
        return state.index_select(0, index.to(state.device))
    own = getattr(state, "select", None)
    if callable(own):
        return own(index)
    if isinstance(state, tuple):
        if hasattr(state, "_fields"):  # NamedTuple
            items = [
                _select(v, index, f"{path}.{f}", rows) for f, v in zip(state._fields, state, strict=True)
            ]
            return type(state)._make(items)
        items = [_select(v, index, f"{path}[{i}]", rows) for i, v in enumerate(state)]
        return tuple(items) if type(state) is tuple else type(state)(items)
    if isinstance(state, list):
        items = [_select(v, index, f"{path}[{i}]", rows) for i, v in enumerate(state)]
        return items if type(state) is list else type(state)(items)
    if isinstance(state, dict):
        picked = {k: _select(v, index, f"{path}[{k!r}]", rows) for k, v in state.items()}
        if type(state) is dict:
            return picked
        out = copy.copy(state)  # OrderedDict, defaultdict, ...: keep the type and its settings
        out.clear()
        out.update(picked)
        return out
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        changes = {
            f.name: _select(getattr(state, f.name), index, f"{path}.{f.name}", rows)
            for f in dataclasses.fields(state)
            if f.init
        }
        return dataclasses.replace(state, **changes)
    raise TypeError(
        f"select_state: cannot pick rows of {path}, a {type(state).__name__}; a decoder state may hold "
        "batch-first tensors, None, numbers, strings, tuples, lists, dicts, dataclasses and objects with a "
        "select(index) method"
    )


# ----------------------------------------------------------------------------------------------------
# Greedy decoding and sampling


def _top(scores: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """The n best entries of each row of scores (R, N): values and indices (R, n), best first.

    Ties go to the lowest index, as with ``argmax``, so that beam search with K = 1 is greedy search
    even when scores tie (``topk`` leaves the order of ties unspecified).
    """
    R, N = scores.shape
    if n >= N:
        values, indices = torch.sort(scores, dim=1, descending=True, stable=True)
        return values[:, :n], indices[:, :n]
    values, indices = scores.topk(n + 1, dim=1)  # (R, n + 1): values exact, which of tied entries arbitrary
    boundary_tie = values[:, n - 1] == values[:, n]  # (R,) then the n-th place is shared
    values, indices = values[:, :n], indices[:, :n]
    if bool(boundary_tie.any()):  # rare with real scores: resolve those rows exactly
        rows = boundary_tie.nonzero()[:, 0]
        sub = scores[rows]  # (r, N)
        nth = values[rows, n - 1 :]  # (r, 1)
        above, tied = sub > nth, sub == nth
        room = n - above.sum(dim=1, keepdim=True)  # (r, 1) how many tied entries fit
        keep = above | (tied & (tied.cumsum(dim=1) <= room))  # exactly n per row
        indices = indices.index_put((rows,), keep.nonzero()[:, 1].view(-1, n))
        values = scores.gather(1, indices)
    # best first, ties by index: sort by index, then stably by value
    indices = indices.sort(dim=1).values
    values = scores.gather(1, indices)
    order = torch.sort(values, dim=1, descending=True, stable=True).indices
    return values.gather(1, order), indices.gather(1, order)


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Logits (B, V) with every token outside the top-k / top-p set of its row set to -inf (a new tensor).

    ``top_k`` keeps exactly the k largest logits of each row (ties go to the lowest token id).
    ``top_p`` (nucleus sampling, Holtzman et al. 2020) keeps the smallest set of most likely tokens whose
    probability mass reaches p (at least one token; ties go to the lowest id; p = 1 keeps everything).
    With both, top-k is applied first and top-p to the renormalised remainder. None disables a filter.
    """
    if (
        not isinstance(logits, Tensor)
        or logits.dim() != 2
        or not logits.is_floating_point()
        or logits.shape[1] == 0
    ):
        raise ValueError(f"filter_logits expects float logits of shape (B, V), got {_describe(logits)}")
    V = logits.shape[1]
    _check_top_k(top_k, V, "filter_logits")
    _check_top_p(top_p, "filter_logits")
    logits = logits.clone()
    if top_k is not None and top_k < V:
        keep = torch.zeros_like(logits, dtype=torch.bool)
        keep.scatter_(1, _top(logits, top_k)[1], True)
        logits.masked_fill_(~keep, float("-inf"))
    if top_p is not None and top_p < 1:
        probs = torch.softmax(logits.to(_wide(logits.device)), dim=-1)  # (B, V)
        sorted_probs, order = torch.sort(probs, dim=1, descending=True, stable=True)
        before = torch.cumsum(sorted_probs, dim=1) - sorted_probs  # (B, V) mass of the more likely tokens
        keep_sorted = before < top_p - _TOP_P_TOL  # the nucleus has not reached p before this token
        keep_sorted[:, 0] = True
        keep = torch.zeros_like(keep_sorted).scatter_(1, order, keep_sorted)
        logits.masked_fill_(~keep, float("-inf"))
    return logits


def _generate(
    model: Any,
    inputs: Sequence[Any],
    bos: int | Tensor,
    eos: int,
    max_len: int,
    choose: Callable[[Tensor], Tensor],
    who: str,
) -> tuple[list[list[int]], list[list[float]]]:
    """The loop of greedy decoding and sampling: ``choose`` picks the next tokens (B,) from logp (B, V)."""
    _check_model(model, who)
    _check_token_id(eos, "eos", who)
    _check_positive_int(max_len, "max_len")
    B, device = _batch_of(inputs, who)
    tokens = _first_tokens(bos, B, device, who)  # (B,)
    seqs: list[list[int]] = [[] for _ in range(B)]
    logps: list[list[float]] = [[] for _ in range(B)]
    if B == 0:
        return seqs, logps
    state = model.start(*inputs)
    done = [False] * B
    V = None
    for _ in range(max_len):
        logp, state = _check_step(model.step(tokens, state), B, V, who)  # (B, V)
        if V is None:
            V = logp.shape[1]
            _check_vocab(bos, eos, V, who)
        tokens = choose(logp)  # (B,)
        picked = logp.gather(1, tokens[:, None])[:, 0]  # (B,) log-probabilities of the chosen tokens
        for b, (token, lp) in enumerate(zip(tokens.tolist(), picked.tolist(), strict=True)):
            if not done[b]:
                logps[b].append(lp)
                if token == eos:
                    done[b] = True
                else:
                    seqs[b].append(token)
        if all(done):
            break
    return seqs, logps


@torch.no_grad()
def greedy_decode(
    model: Decoder,
    inputs: tuple,
    *,
    bos: int | Tensor,
    eos: int,
    max_len: int,
    return_log_probs: bool = False,
) -> list[list[int]] | tuple[list[list[int]], list[list[float]]]:
    """Greedy search: feed ``bos`` (an int, or first tokens (B,), e.g. each prompt's last token), then at
    each of at most ``max_len`` steps the most likely next token (ties: the lowest id).

    B = dim 0 of the first tensor in ``inputs``; ``state = model.start(*inputs)``. Returns the token ids
    of each sequence without ``bos`` and ``eos`` (a sequence stops at its first ``eos``; at most
    ``max_len`` ids). With ``return_log_probs`` also the log-probability of each chosen token, including
    the ``eos`` step when there is one; their sum is the sequence's log-probability.
    """
    seqs, logps = _generate(
        model, inputs, bos, eos, max_len, lambda logp: logp.argmax(dim=-1), "greedy_decode"
    )
    return (seqs, logps) if return_log_probs else seqs


@torch.no_grad()
def sample(
    model: Decoder,
    inputs: tuple,
    *,
    bos: int | Tensor,
    eos: int,
    max_len: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Ancestral sampling: at each step draw the next token from softmax(logp / temperature), restricted
    by :func:`filter_logits` to the ``top_k`` / ``top_p`` set. Arguments and output as :func:`greedy_decode`.

    ``temperature`` < 1 sharpens, > 1 flattens, 0 means greedy. Draws come from ``generator`` (or the
    global generator); with the same seed and the same batch the samples repeat, but row b of a batch
    does not get the draws it would get alone (the batch consumes random numbers step by step).
    """
    who = "sample"
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not 0 <= temperature < math.inf
    ):
        raise ValueError(f"{who}: temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}")
    _check_top_k(top_k, None, who)
    _check_top_p(top_p, who)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{who}: generator must be None or a torch.Generator, got {_describe(generator)}")

    def choose(logp: Tensor) -> Tensor:  # (B, V) -> (B,)
        if temperature == 0:
            return logp.argmax(dim=-1)
        _check_top_k(top_k, logp.shape[1], who)
        scaled = (logp - logp.max(dim=-1, keepdim=True).values) / temperature  # the best token stays finite
        probs = torch.softmax(filter_logits(scaled, top_k, top_p).float(), dim=-1)  # (B, V)
        return _multinomial(probs, generator)

    return _generate(model, inputs, bos, eos, max_len, choose, who)[0]


# ----------------------------------------------------------------------------------------------------
# Beam search


def _score(log_prob: float, length: int, length_penalty: str, alpha: float) -> float:
    """The ranking score of a hypothesis; ``length`` counts its tokens, ``eos`` included."""
    if length_penalty == "none":
        return log_prob
    if length_penalty == "average":
        return log_prob / length
    return log_prob / ((5 + length) / 6) ** alpha  # "gnmt", Wu et al. 2016


def _keep_best(
    kept: list[Hypothesis],
    tokens: list[int],
    log_prob: float,
    finished: bool,
    beam_size: int,
    penalty: str,
    alpha: float,
) -> None:
    """Add a hypothesis to ``kept`` (best first; earlier ones win ties) and keep the best ``beam_size``."""
    length = len(tokens) + finished  # eos counts
    kept.append(Hypothesis(tokens, log_prob, _score(log_prob, length, penalty, alpha), finished))
    kept.sort(key=lambda h: -h.score)  # stable
    del kept[beam_size:]


@torch.no_grad()
def beam_search(
    model: Decoder,
    inputs: tuple,
    *,
    bos: int | Tensor,
    eos: int,
    beam_size: int,
    max_len: int,
    length_penalty: str = "none",
    alpha: float = 0.6,
    n_best: int = 1,
) -> list[list[Hypothesis]]:
    """Beam search over B sentences at once: the ``n_best`` best hypotheses of each, best first.

    Each step is ONE ``model.step`` call on the live beams of the unfinished sentences (B rows at the
    first step, which starts from one beam per sentence; then up to B*K). From the K * V extensions
    of a sentence's beams, the K best that do not end in ``eos`` become its new beams, and those that end
    in ``eos`` and rank among the K best overall become finished hypotheses (at most K are kept, ranked
    by score). A sentence is done when it has K finished hypotheses and, for ``length_penalty="none"``,
    no live beam can still beat the worst of them (log-probabilities only decrease), or when it has no
    live beam left; after ``max_len`` steps its live beams join the candidates as unfinished hypotheses. ``n_best`` <= ``beam_size``;
    fewer come back when fewer exist (e.g. a model that always emits ``eos``).

    ``length_penalty``: "none" ranks by log P; "average" by log P / length; "gnmt" by
    log P / ((5 + length) / 6) ** alpha (Wu et al. 2016); length counts ``eos``. With
    ``beam_size=1`` the result is exactly :func:`greedy_decode`'s (whatever the penalty; ties go to the
    lowest token id in both).
    """
    who = "beam_search"
    _check_model(model, who)
    _check_positive_int(beam_size, "beam_size")
    _check_positive_int(max_len, "max_len")
    _check_positive_int(n_best, "n_best")
    if n_best > beam_size:
        raise ValueError(
            f"{who}: n_best = {n_best} exceeds beam_size = {beam_size}; the search keeps only beam_size"
        )
    if length_penalty not in LENGTH_PENALTIES:
        raise ValueError(f"{who}: unknown length_penalty {length_penalty!r}; use one of {LENGTH_PENALTIES}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha < math.inf:
        raise ValueError(f"{who}: alpha must be a finite number >= 0, got {alpha!r}")
    _check_token_id(eos, "eos", who)
    B, device = _batch_of(inputs, who)
    tokens = _first_tokens(bos, B, device, who)  # (R,) with R = B at the first step
    if B == 0:
        return []
    K, inf = beam_size, float("inf")
    state = model.start(*inputs)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]  # per sentence, best first, at most K
    active = list(range(B))  # the sentences still searched, in the order of their rows
    k = 1  # beams per active sentence: one at the first step, then min(K, candidates)
    history = torch.empty(B, 0, dtype=torch.long)  # (R, t - 1) tokens of each beam so far, on the CPU
    scores = torch.empty(0)  # (A, k) log-probabilities of the live beams; -inf marks a dead beam
    V = 0
    for t in range(1, max_len + 1):
        A, R = len(active), len(active) * k
        logp, state = _check_step(model.step(tokens, state), R, V or None, who)  # (R, V)
        if t == 1:
            V = logp.shape[1]
            _check_vocab(bos, eos, V, who)
            scores = torch.zeros(B, 1, dtype=_wide(logp.device), device=logp.device)
        # a beam's extensions rank as its tokens do, so each beam offers only its best m tokens
        m = min(2 * K, V)
        beam_logp, beam_token = _top(logp, m)  # (R, m) best first, ties: the lower id
        cand = (scores[:, :, None] + beam_logp.reshape(A, k, m).to(scores.dtype)).reshape(A, k * m)
        n = min(2 * K, k * m)  # at most k candidates end in eos, so K live ones remain among 2K
        values, pos = _top(cand, n)  # (A, n) best first; ties: the earlier beam, then the better token
        parent, token = pos // m, beam_token.reshape(A, k * m).gather(1, pos)  # (A, n) beam, next token
        is_eos = token == eos
        rank = torch.arange(n, device=pos.device)
        # new live beams: the first k_new candidates by rank that do not end in eos (others are dead)
        k_new = min(K, n)
        live = torch.argsort(is_eos.long() * n + rank, dim=1)[:, :k_new]  # (A, k_new), keys are unique
        live_values = values.gather(1, live)
        live_ok = ~is_eos.gather(1, live) & (live_values > -inf)
        live_values = live_values.masked_fill(~live_ok, -inf)
        live_token, live_parent = token.gather(1, live), parent.gather(1, live)
        # bookkeeping on the CPU: small (A, 2K) tensors
        ends = (is_eos & (rank < K) & (values > -inf)).cpu()
        values_c, parent_c = values.cpu(), parent.cpu()
        live_values_c, live_token_c, live_parent_c = live_values.cpu(), live_token.cpu(), live_parent.cpu()
        for a, r in ends.nonzero().tolist():
            lp = float(values_c[a, r])
            prefix = history[a * k + int(parent_c[a, r])].tolist()  # t - 1 tokens (+ eos)
            _keep_best(finished[active[a]], prefix, lp, True, K, length_penalty, alpha)
        keep = []
        for a, sentence in enumerate(active):
            kept, best_live = finished[sentence], float(live_values_c[a, 0])  # live beams are best first
            if t == max_len:
                for j in range(k_new):
                    lp = float(live_values_c[a, j])
                    if lp > -inf:
                        prefix = history[a * k + int(live_parent_c[a, j])].tolist() + [
                            int(live_token_c[a, j])
                        ]
                        _keep_best(kept, prefix, lp, False, K, length_penalty, alpha)
            elif best_live == -inf:
                pass  # no live beam left
            elif len(kept) >= K and (length_penalty != "none" or best_live <= kept[-1].score):
                pass  # K finished, and (for "none") no live beam can beat the worst of them
            else:
                keep.append(a)
        if not keep:
            break
        keep_c = torch.tensor(keep)
        rows = (keep_c[:, None] * k + live_parent_c[keep_c]).reshape(-1)  # (A' * k_new,) parent rows
        state = _select(state, rows.to(logp.device), "state", R)
        history = torch.cat([history[rows], live_token_c[keep_c].reshape(-1, 1)], dim=1)
        keep_d = keep_c.to(logp.device)
        scores, tokens = live_values[keep_d], live_token[keep_d].reshape(-1)
        active, k = [active[a] for a in keep], k_new
    return [kept[:n_best] for kept in finished]
