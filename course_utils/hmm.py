"""Hidden Markov models (隐马尔可夫模型) with discrete observations, vectorised with NumPy.

An HMM is the five-tuple ``(S, V, π, A, B)``: states ``S = {s_1..s_N}``, output alphabet
``V = {v_1..v_M}``, initial probabilities ``π[i] = P(X_1 = s_i)``, the transition matrix (转移矩阵)
``A[i, j] = P(X_{t+1} = s_j | X_t = s_i)`` and the emission matrix (发射概率矩阵)
``B[j, k] = P(O_t = v_k | X_t = s_j)``. :class:`HMM` solves the three classic problems:

* evaluation — :meth:`HMM.forward`, :meth:`HMM.backward`, :meth:`HMM.log_likelihood`;
* decoding — :meth:`HMM.viterbi` (best state path), :meth:`HMM.posteriors` (per-step marginals);
* a whole corpus at once — :meth:`HMM.batch_log_likelihood`, :meth:`HMM.batch_viterbi`;
* learning — :meth:`HMM.baum_welch` (EM from observations only) and :meth:`HMM.fit_counts`
  (supervised maximum likelihood from tagged sequences).

All recursions, and Baum-Welch's expected counts, run in log space (log-sum-exp) or with per-step
scaling, so sequences of any length are safe; NaN or ``+inf`` log scores are refused. The functions
:func:`forward_log`, :func:`backward_log` and :func:`viterbi_log` take a matrix of per-step log
emission scores ``[T, N]`` instead of symbol ids, for models whose emissions are not a fixed table
(e.g. a tagger that scores unknown words by their suffix). Shapes: ``T`` time, ``N`` states,
``M`` symbols.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["HMM", "backward_log", "forward_log", "logsumexp", "viterbi_log"]

Rng = np.random.Generator | int | None

# Baum-Welch: a per-step scale below this is not divided by; that step is computed in log space instead.
_SAFE_SCALE = 1e-150
# Baum-Welch: at most this many [N, N] entries are materialised at once by the log-space path.
_CHUNK_ELEMENTS = 1 << 20


def logsumexp(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """``log(sum(exp(x), axis))`` computed stably; an all ``-inf`` slice gives ``-inf`` (no warnings)."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)


def _as_log_scores(x: Any, name: str) -> np.ndarray:
    """``x`` as a float array of log scores: numbers or ``-inf`` (log 0); NaN and ``+inf`` are refused."""
    raw = np.asarray(x)
    if raw.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be an array of log probabilities (real numbers or -inf), got dtype {raw.dtype}."
        )
    arr = raw.astype(np.float64, copy=False)
    if (arr < np.inf).all():  # one pass: False exactly for NaN and +inf entries
        return arr
    for bad, what in ((np.isnan(arr), "NaN"), (np.isposinf(arr), "+inf")):
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name} contains {what} at index {idx} ({int(bad.sum())} such entries); log probabilities "
                "must be finite or -inf (= log 0). Check how they were computed, e.g. log of a negative "
                "number, 0 * inf or inf - inf."
            )
    return arr


def _check_log_inputs(
    log_pi: Any, log_A: Any, log_emit: Any, batch: bool
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Validate and convert ``(log_pi, log_A, log_emit)``; ``log_pi`` may be None."""
    log_emit = _as_log_scores(log_emit, "log_emit")
    log_A = _as_log_scores(log_A, "log_A")
    log_pi = None if log_pi is None else _as_log_scores(log_pi, "log_pi")
    ndims = (2, 3) if batch else (2,)
    if log_emit.ndim not in ndims or log_emit.shape[-2] == 0 or log_emit.shape[-1] == 0:
        want = "[T, N] or [S, T, N]" if batch else "[T, N]"
        raise ValueError(f"log_emit must have shape {want} with T >= 1 and N >= 1, got {log_emit.shape}.")
    n = log_emit.shape[-1]
    if log_A.shape != (n, n) or (log_pi is not None and log_pi.shape != (n,)):
        pi_shape = None if log_pi is None else log_pi.shape
        raise ValueError(
            f"shapes do not match: log_emit {log_emit.shape} has N={n} states, "
            f"but log_A is {log_A.shape} and log_pi is {pi_shape}; "
            "log_A must be [N, N] and log_pi [N]."
        )
    return log_pi, log_A, log_emit


def forward_log(log_pi: np.ndarray, log_A: np.ndarray, log_emit: np.ndarray) -> np.ndarray:
    """Forward algorithm (前向算法) in log space.

    ``log_alpha[t, j] = log P(o_1..o_t, X_t = j)``:
    ``log_alpha[0] = log_pi + log_emit[0]`` and
    ``log_alpha[t, j] = logsumexp_i(log_alpha[t-1, i] + log_A[i, j]) + log_emit[t, j]``.
    ``log_pi``: [N], ``log_A``: [N, N], ``log_emit``: [T, N] with ``log_emit[t, j] = log b_j(o_t)``,
    or [S, T, N] for S sequences of the same length at once. Returns ``log_alpha``, shaped like ``log_emit``.
    """
    log_pi, log_A, log_emit = _check_log_inputs(log_pi, log_A, log_emit, batch=True)
    log_alpha = np.empty(log_emit.shape, dtype=np.float64)
    log_alpha[..., 0, :] = log_pi + log_emit[..., 0, :]
    for t in range(1, log_emit.shape[-2]):
        # [..., N, 1] + [N, N]: entry (i, j) = log alpha_{t-1}(i) + log a_ij; reduce over i
        log_alpha[..., t, :] = (
            logsumexp(log_alpha[..., t - 1, :, None] + log_A, axis=-2) + log_emit[..., t, :]
        )
    return log_alpha


def backward_log(log_A: np.ndarray, log_emit: np.ndarray) -> np.ndarray:
    """Backward algorithm (后向算法) in log space.

    ``log_beta[t, i] = log P(o_{t+1}..o_T | X_t = i)``: ``log_beta[T-1] = 0`` and
    ``log_beta[t, i] = logsumexp_j(log_A[i, j] + log_emit[t+1, j] + log_beta[t+1, j])``.
    ``log_emit``: [T, N] or [S, T, N]. Returns ``log_beta``, shaped like ``log_emit``.
    """
    _, log_A, log_emit = _check_log_inputs(None, log_A, log_emit, batch=True)
    log_beta = np.zeros(log_emit.shape, dtype=np.float64)
    for t in range(log_emit.shape[-2] - 2, -1, -1):
        # [N, N] + [..., 1, N]: entry (i, j) = log a_ij + log b_j(o_{t+1}) + log beta_{t+1}(j); reduce over j
        log_beta[..., t, :] = logsumexp(
            log_A + (log_emit[..., t + 1, :] + log_beta[..., t + 1, :])[..., None, :], axis=-1
        )
    return log_beta


def viterbi_log(log_pi: np.ndarray, log_A: np.ndarray, log_emit: np.ndarray) -> tuple[np.ndarray, float]:
    """Viterbi algorithm (维特比算法): the most probable state path and its log probability.

    ``delta[0] = log_pi + log_emit[0]``;
    ``delta[t, j] = max_i(delta[t-1, i] + log_A[i, j]) + log_emit[t, j]`` with back-pointer
    ``psi[t, j] = argmax_i(...)``; the path is read backwards from ``argmax_j delta[T-1, j]``.
    Returns ``(path [T] of state ids, log P(path, observations))``; ties go to the lowest state id.
    """
    log_pi, log_A, log_emit = _check_log_inputs(log_pi, log_A, log_emit, batch=False)
    T, N = log_emit.shape
    delta = log_pi + log_emit[0]
    psi = np.zeros((T, N), dtype=np.int64)
    cols = np.arange(N)
    for t in range(1, T):
        scores = delta[:, None] + log_A  # scores[i, j]: come from i, go to j
        psi[t] = np.argmax(scores, axis=0)
        delta = scores[psi[t], cols] + log_emit[t]
    path = np.empty(T, dtype=np.int64)
    path[-1] = int(np.argmax(delta))
    for t in range(T - 1, 0, -1):
        path[t - 1] = psi[t, path[t]]
    return path, float(delta[path[-1]])


def _as_rng(rng: Rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (np.random.SeedSequence, np.random.BitGenerator)):
        return np.random.default_rng(rng)
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0):
        raise TypeError(
            f"rng must be a numpy.random.Generator, a non-negative int seed or None, got {rng!r}; "
            "e.g. rng=0 or rng=np.random.default_rng(0)."
        )
    return np.random.default_rng(rng)


def _check_int(value: Any, name: str, minimum: int, hint: str = "") -> int:
    """``value`` as an int >= ``minimum``: TypeError for non-ints (bool, float, NaN), else ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}{hint}, got {type(value).__name__} ({value!r}).")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}{hint}, got {value}.")
    return int(value)


def _check_real(value: Any, name: str, hint: str, *, allow_neg_inf: bool = False) -> float:
    """``value`` as a float: TypeError for non-numbers (bool, str), ValueError for NaN or +-inf."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number ({hint}), got {type(value).__name__} ({value!r}).")
    value = float(value)
    if np.isnan(value) or value == np.inf or (value == -np.inf and not allow_neg_inf):
        what = "a finite number or -inf" if allow_neg_inf else "a finite number"
        raise ValueError(f"{name} must be {what} ({hint}), got {value}.")
    return value


def _is_record(x: Any) -> bool:
    """Whether ``x`` can be a ``(symbol, state, ...)`` item: a tuple/list/array, not a string."""
    if isinstance(x, (str, bytes)):
        return False
    return isinstance(x, (Sequence, np.ndarray)) and len(x) >= 2


class HMM:
    """A discrete-output HMM ``(S, V, π, A, B)``.

    ``pi``: [N] initial probabilities, ``A``: [N, N] transitions (row = from, column = to),
    ``B``: [N, M] emissions (row = state, column = symbol). Every row must be non-negative and sum
    to 1 (within ``atol``, a tolerance in [0, 1)). ``states`` / ``symbols`` optionally name the N states and M symbols;
    :meth:`encode` turns symbols into the integer ids all other methods take.
    """

    def __init__(
        self,
        pi: Any,
        A: Any,
        B: Any,
        states: Sequence[Hashable] | None = None,
        symbols: Sequence[Hashable] | None = None,
        *,
        atol: float = 1e-6,
    ) -> None:
        atol = _check_real(atol, "atol", "the tolerance on row sums, in [0, 1), e.g. 1e-6")
        if not 0 <= atol < 1:
            raise ValueError(
                f"atol must be in [0, 1) (the tolerance on row sums, e.g. 1e-6), got {atol}; "
                "a tolerance of 1 or more would accept rows that sum to 0."
            )
        pi = self._as_float(pi, "pi", ndim=1)
        A = self._as_float(A, "A", ndim=2)
        B = self._as_float(B, "B", ndim=2)
        n = pi.shape[0]
        if n == 0:
            raise ValueError("pi is empty; an HMM needs at least one state.")
        if A.shape != (n, n):
            raise ValueError(
                f"A must have shape [N, N] = [{n}, {n}] to match pi ({n} states), got {A.shape}."
            )
        if B.shape[0] != n or B.shape[1] == 0:
            raise ValueError(f"B must have shape [N, M] with N = {n} (from pi) and M >= 1, got {B.shape}.")
        self._check_stochastic(pi[None, :], "pi", atol)
        self._check_stochastic(A, "A", atol)
        self._check_stochastic(B, "B", atol)
        self.pi, self.A, self.B = pi, A, B
        for arr in (self.pi, self.A, self.B):
            arr.flags.writeable = False
        self.log_pi, self.log_A, self.log_B = _log(pi), _log(A), _log(B)
        self.states = self._names(states, n, "states")
        self.symbols = self._names(symbols, B.shape[1], "symbols")
        self._symbol_index = None if self.symbols is None else {s: k for k, s in enumerate(self.symbols)}

    # ------------------------------------------------------------------ validation helpers
    @staticmethod
    def _as_float(x: Any, name: str, ndim: int) -> np.ndarray:
        try:
            raw = np.asarray(x)
            if raw.dtype.kind not in "biuf":
                raise TypeError(f"got dtype {raw.dtype}")
            arr = np.array(raw, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be an array of probabilities (real numbers): {err}") from err
        if arr.ndim != ndim:
            want = "[N]" if ndim == 1 else ("[N, N]" if name == "A" else "[N, M]")
            raise ValueError(f"{name} must have shape {want}, got an array with shape {arr.shape}.")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values.")
        if (arr < 0).any():
            idx = tuple(int(i) for i in np.argwhere(arr < 0)[0])
            raise ValueError(
                f"{name} has a negative entry {arr[idx]:g} at index {idx}; probabilities are >= 0."
            )
        return arr

    @staticmethod
    def _check_stochastic(m: np.ndarray, name: str, atol: float) -> None:
        sums = m.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
        if bad.size:
            r = int(bad[0])
            where = name if name == "pi" else f"row {r} of {name}"
            fix = f"{name} / {name}.sum()" if name == "pi" else f"{name} / {name}.sum(axis=1, keepdims=True)"
            raise ValueError(
                f"{where} sums to {sums[r]:.6g}, not 1 ({bad.size} row(s) off); "
                f"probabilities must be normalised, e.g. {fix}."
            )

    @staticmethod
    def _names(names: Sequence[Hashable] | None, n: int, what: str) -> list[Hashable] | None:
        if names is None:
            return None
        names = HMM._label_list(names, what)
        if len(names) != n:
            raise ValueError(f"got {len(names)} {what} names for {n} {what}; give exactly one name each.")
        return names

    @staticmethod
    def _label_list(names: Any, what: str) -> list[Hashable]:
        """``names`` as a list of unique hashable labels; a plain string is refused (not split up)."""
        if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
            raise TypeError(
                f"{what} must be a list of names, got {type(names).__name__} {names!r:.40} "
                f"(a string would be split into letters); e.g. {what}=['a', 'b']."
            )
        try:
            names = list(names)
            hash(tuple(names))
        except TypeError as err:
            raise TypeError(f"{what} must be a list of hashable names (e.g. strings): {err}") from err
        if len(set(names)) != len(names):
            dup = next(s for s, c in Counter(names).items() if c > 1)
            raise ValueError(f"{what} names must be unique; {dup!r} occurs more than once.")
        return names

    def _check_obs(self, obs: Any) -> np.ndarray:
        arr = np.asarray(obs)
        if arr.ndim != 1 or arr.shape[0] == 0:
            raise ValueError(
                f"obs must be a non-empty 1-D sequence of symbol ids [T], got shape {arr.shape}."
            )
        if not np.issubdtype(arr.dtype, np.integer):
            hint = " (use hmm.encode(...) to turn symbols into ids)" if self.symbols is not None else ""
            raise TypeError(f"obs must contain integer symbol ids, got dtype {arr.dtype}{hint}.")
        bad = np.flatnonzero((arr < 0) | (arr >= self.n_symbols))
        if bad.size:
            t = int(bad[0])
            raise ValueError(
                f"observation {int(arr[t])} at position {t} is out of range: this HMM has "
                f"{self.n_symbols} symbols, ids 0..{self.n_symbols - 1}."
            )
        return arr.astype(np.int64, copy=False)

    # ------------------------------------------------------------------ basics
    @property
    def n_states(self) -> int:
        """N, the number of hidden states."""
        return self.A.shape[0]

    @property
    def n_symbols(self) -> int:
        """M, the size of the output alphabet."""
        return self.B.shape[1]

    def __repr__(self) -> str:
        return f"HMM(n_states={self.n_states}, n_symbols={self.n_symbols})"

    def encode(self, symbols: Iterable[Hashable], unk: Hashable | None = None) -> np.ndarray:
        """Map symbol names to ids [T]; a symbol outside the alphabet maps to ``unk`` if given, else raises."""
        if self._symbol_index is None:
            raise ValueError("this HMM has no symbol names; create it with symbols=[...] to use encode().")
        index = self._symbol_index
        if unk is not None and unk not in index:
            raise KeyError(f"unk={unk!r} is not one of this HMM's symbols.")
        ids = []
        for s in symbols:
            k = index.get(s)
            if k is None:
                if unk is None:
                    raise KeyError(
                        f"symbol {s!r} is not in this HMM's alphabet of {self.n_symbols} symbols; "
                        "map unseen symbols to one that is (e.g. encode(..., unk='<unk>'))."
                    )
                k = index[unk]
            ids.append(k)
        return np.asarray(ids, dtype=np.int64)

    def sample(self, T: int, rng: Rng = None) -> tuple[np.ndarray, np.ndarray]:
        """Generate ``(states [T], observations [T])``: ``X_1 ~ π``, ``O_t ~ B[X_t]``, ``X_{t+1} ~ A[X_t]``.

        ``rng`` is a ``numpy.random.Generator`` or a seed. Rows accepted within ``atol`` of summing to 1
        are renormalised before drawing, so samples always come from proper distributions.
        """
        if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
            raise ValueError(f"T must be a positive int (the sequence length), got {T!r}.")
        u = _as_rng(rng).random((T, 2))  # two uniform numbers per step: one for X_t, one for O_t
        # inverse-CDF sampling: the first index whose cumulative probability exceeds u. Rows were only
        # checked to sum to 1 within atol, so each cumulative row is divided by its total: it then ends
        # at exactly 1 and every draw comes from the renormalised row (never a zero-probability entry).
        cum_pi, cum_A, cum_B = np.cumsum(self.pi), np.cumsum(self.A, axis=1), np.cumsum(self.B, axis=1)
        cum_pi, cum_A, cum_B = cum_pi / cum_pi[-1], cum_A / cum_A[:, -1:], cum_B / cum_B[:, -1:]
        states = np.empty(T, dtype=np.int64)
        obs = np.empty(T, dtype=np.int64)
        state = min(int(np.searchsorted(cum_pi, u[0, 0], side="right")), self.n_states - 1)
        for t in range(T):
            if t > 0:
                state = min(int(np.searchsorted(cum_A[state], u[t, 0], side="right")), self.n_states - 1)
            states[t] = state
            obs[t] = min(int(np.searchsorted(cum_B[state], u[t, 1], side="right")), self.n_symbols - 1)
        return states, obs

    def log_emissions(self, obs: Any) -> np.ndarray:
        """``log B[:, o_t]`` for every step: [T, N]."""
        return self.log_B[:, self._check_obs(obs)].T

    # ------------------------------------------------------------------ problem 1: evaluation
    def forward(self, obs: Any) -> np.ndarray:
        """Log forward variables ``log_alpha`` [T, N] (see :func:`forward_log`)."""
        return forward_log(self.log_pi, self.log_A, self.log_emissions(obs))

    def backward(self, obs: Any) -> np.ndarray:
        """Log backward variables ``log_beta`` [T, N] (see :func:`backward_log`)."""
        return backward_log(self.log_A, self.log_emissions(obs))

    def log_likelihood(self, obs: Any) -> float:
        """``log P(obs | model)`` = logsumexp of the last forward row (``-inf`` if impossible)."""
        return float(logsumexp(self.forward(obs)[-1]))

    # ------------------------------------------------------------------ problem 2: decoding
    def viterbi(self, obs: Any) -> tuple[np.ndarray, float]:
        """Most probable state path [T] and its joint log probability ``log P(path, obs)``."""
        return viterbi_log(self.log_pi, self.log_A, self.log_emissions(obs))

    # ------------------------------------------------------------------ many sequences at once
    def _check_corpus(self, sequences: Any) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """Checked sequences, their lengths, the order longest first, and the padded ids [S, T_max] in that order."""
        if isinstance(sequences, np.ndarray) and sequences.ndim == 1:
            raise ValueError(
                "sequences must be a list of 1-D symbol-id sequences, got one 1-D array; "
                "for a single sequence use log_likelihood(obs) / viterbi(obs), or pass [obs]."
            )
        if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
            raise TypeError(
                f"sequences must be a list of 1-D symbol-id sequences, got {type(sequences).__name__}."
            )
        seqs = []
        for k, obs in enumerate(sequences):
            if isinstance(obs, (str, bytes)):
                raise TypeError(
                    f"sequences[{k}] is a string ({obs[:20]!r}); turn each sequence into symbol ids first, "
                    "e.g. hmm.encode(list_of_symbols)."
                )
            arr = np.asarray(obs)
            if arr.ndim == 0:
                raise ValueError(
                    f"sequences[{k}] is a single number, not a sequence; pass a list of sequences, e.g. [obs]."
                )
            if arr.ndim != 1 or arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.integer):
                try:  # the single-sequence check words the error
                    self._check_obs(arr)
                except (TypeError, ValueError) as err:
                    raise type(err)(f"sequences[{k}]: {err}") from err
            seqs.append(arr.astype(np.int64, copy=False))
        if not seqs:
            raise ValueError("sequences is empty; give at least one observation sequence.")
        lengths = np.array([len(o) for o in seqs], dtype=np.int64)
        flat = np.concatenate(seqs)
        if (
            flat.min() < 0 or flat.max() >= self.n_symbols
        ):  # one pass over the corpus; name the first bad sequence
            k = int(
                np.searchsorted(
                    np.cumsum(lengths), np.flatnonzero((flat < 0) | (flat >= self.n_symbols))[0], "right"
                )
            )
            try:
                self._check_obs(seqs[k])
            except ValueError as err:
                raise ValueError(f"sequences[{k}]: {err}") from err
        order = np.argsort(-lengths, kind="stable")  # longest first: at step t the first n_t rows are active
        sorted_lengths = lengths[order]
        padded = np.zeros((len(seqs), int(lengths.max())), dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        # row r holds sequence order[r]: positions t < its length come from flat[starts[order[r]] + t]
        in_seq = np.arange(padded.shape[1]) < sorted_lengths[:, None]  # [S, T_max]
        padded[in_seq] = flat[(starts[order][:, None] + np.arange(padded.shape[1]))[in_seq]]
        return seqs, lengths, order, padded

    def batch_log_likelihood(self, sequences: Iterable[Any]) -> np.ndarray:
        """``log P(obs | model)`` of every sequence [S], all sequences advanced together (a corpus at once).

        The same numbers as :meth:`log_likelihood` per sequence, computed by the scaled forward algorithm:
        ``alpha_t = (alpha_{t-1} A) * B[:, o_t]`` for a whole batch by one matrix product per step,
        rescaled to sum to 1 each step, ``log P = sum_t log c_t`` (c_t: the scale). Sequences are sorted
        longest first, so step t touches only the sequences still running. A sequence whose scale
        reaches 0 is recomputed in log space (it is impossible, or its mass went below float range).
        """
        seqs, lengths, order, padded = self._check_corpus(sequences)
        emit_T = np.ascontiguousarray(self.B.T)  # [M, N]: the emission column of each symbol
        alpha = self.pi * emit_T[padded[:, 0]]  # [S, N]
        scale = alpha.sum(axis=1)  # [S]
        log_scale = np.zeros(len(seqs))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_scale += np.log(scale)
            alpha /= scale[:, None]
            for t in range(1, padded.shape[1]):
                n = int(np.count_nonzero(lengths[order] > t))  # active rows: a prefix (longest first)
                step = (alpha[:n] @ self.A) * emit_T[padded[:n, t]]  # [n, N]
                scale = step.sum(axis=1)
                log_scale[:n] += np.log(scale)
                alpha[:n] = step / scale[:, None]
        out = np.empty(len(seqs))
        out[order] = log_scale
        for k in np.flatnonzero(~np.isfinite(out)):  # a zero scale: decide exactly, in log space
            out[k] = self.log_likelihood(seqs[k])
        return out

    def batch_viterbi(self, sequences: Iterable[Any]) -> list[tuple[np.ndarray, float]]:
        """:meth:`viterbi` for every sequence, all advanced together: ``[(path [T_k], log P(path, obs_k)), ...]``.

        Same recursion, float64 arithmetic and tie-breaking (lowest state id) as :func:`viterbi_log`,
        vectorised over the sequences still running at each step (sorted longest first); the max over
        the previous state runs in PyTorch, which returns the maximum and its position in one pass, and
        only for the (sequence, state) pairs whose emission has nonzero probability (a tagger's words
        allow few tags). The results equal those of :meth:`viterbi` called on each sequence; a sequence
        of probability 0 is decoded by :meth:`viterbi` itself.
        """
        import torch  # the max-with-argmax kernel; imported here so the module stays NumPy-only otherwise

        seqs, lengths, order, padded = self._check_corpus(sequences)
        S, T_max = padded.shape
        sorted_lengths = lengths[order]
        active = [int(np.count_nonzero(sorted_lengths > t)) for t in range(T_max)]  # rows running at step t
        log_emit_T = torch.from_numpy(np.ascontiguousarray(self.log_B.T))  # [M, N]
        log_A_T = torch.from_numpy(np.ascontiguousarray(self.log_A.T))  # [N_to, N_from]
        ids = torch.from_numpy(padded)
        delta = torch.from_numpy(self.log_pi) + log_emit_T[ids[:, 0]]  # [S, N]
        psi: list[torch.Tensor] = [torch.empty(0)]  # psi[t]: back-pointers [n_t, N] of the rows active at t
        for t in range(1, T_max):
            n = active[t]
            emit = log_emit_T[ids[:n, t]]  # [n, N]
            # only the (row, state) pairs whose emission is possible (a tagger's words allow few tags);
            # every other state is -inf at this step, whatever came before
            r, j = torch.isfinite(emit).nonzero(as_tuple=True)  # [P], [P]
            scores = delta[r] + log_A_T[j]  # [P, N_from]: come from i, go to j
            values, arg = scores.max(dim=1)  # the first maximal i: ties -> lowest state id
            step = torch.full_like(emit, -torch.inf)
            step[r, j] = values + emit[r, j]
            best = torch.zeros((n, self.n_states), dtype=torch.int64)
            best[r, j] = arg
            delta[:n] = step
            psi.append(best)
        # read every path backwards, all rows at once: a row joins when t reaches its last step
        last = delta.argmax(dim=1)  # [S]
        paths = torch.zeros((S, T_max), dtype=torch.int64)
        rows = torch.arange(S)
        ends = torch.from_numpy(sorted_lengths - 1)
        for t in range(T_max - 1, -1, -1):
            n = active[t]
            starting = ends[:n] == t
            paths[:n, t] = torch.where(starting, last[:n], paths[:n, t])
            if t > 0:
                paths[: active[t], t - 1] = psi[t][rows[:n], paths[:n, t]]
        logps = delta[rows, last].numpy()
        paths_np = paths.numpy()
        results: list[tuple[np.ndarray, float]] = [None] * S  # type: ignore[list-item]
        for row, k in enumerate(order):
            if np.isfinite(logps[row]):
                results[k] = (paths_np[row, : sorted_lengths[row]].copy(), float(logps[row]))
            else:  # probability 0: the skipped states decide its (arbitrary) path, so take viterbi()'s
                results[k] = self.viterbi(seqs[k])
        return results

    def posteriors(self, obs: Any) -> np.ndarray:
        """``gamma[t, i] = P(X_t = i | obs)`` [T, N] from forward-backward; each row sums to 1."""
        log_emit = self.log_emissions(obs)
        log_alpha = forward_log(self.log_pi, self.log_A, log_emit)
        log_beta = backward_log(self.log_A, log_emit)
        ll = logsumexp(log_alpha[-1])
        if not np.isfinite(ll):
            raise ValueError(
                "this observation sequence has probability 0 under the model; no posteriors exist."
            )
        return np.exp(log_alpha + log_beta - ll)

    # ------------------------------------------------------------------ problem 3: learning
    @classmethod
    def random(
        cls,
        n_states: int,
        n_symbols: int,
        seed: int | None = 0,
        states: Sequence[Hashable] | None = None,
        symbols: Sequence[Hashable] | None = None,
    ) -> HMM:
        """A random starting point for :meth:`baum_welch`: every row drawn from a flat Dirichlet(1)."""
        for value, name in ((n_states, "n_states"), (n_symbols, "n_symbols")):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int >= 1, got {type(value).__name__} ({value!r}).")
        if n_states < 1 or n_symbols < 1:
            raise ValueError(f"need n_states >= 1 and n_symbols >= 1, got {n_states} and {n_symbols}.")
        rng = _as_rng(seed)
        pi = rng.dirichlet(np.ones(n_states))
        A = rng.dirichlet(np.ones(n_states), size=n_states)
        B = rng.dirichlet(np.ones(n_symbols), size=n_states)
        return cls(pi, A, B, states=states, symbols=symbols)

    def _expected_counts(
        self, sequences: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """E-step: expected initial, transition and emission counts, and the total log-likelihood.

        Sequences of the same length are processed together, as one [S, T] batch. Everything is
        derived from the log-space forward/backward variables, so no step can overflow.
        """
        N, M = self.n_states, self.n_symbols
        pi_c, A_c, B_c = np.zeros(N), np.zeros((N, N)), np.zeros((M, N))
        total = 0.0
        by_length: dict[int, list[np.ndarray]] = {}
        for obs in sequences:
            by_length.setdefault(obs.shape[0], []).append(obs)
        for group in by_length.values():
            obs = np.stack(group)  # [S, T]
            log_emit = self.log_B.T[obs]  # [S, T, N]
            log_alpha = forward_log(self.log_pi, self.log_A, log_emit)
            log_beta = backward_log(self.log_A, log_emit)
            ll = logsumexp(log_alpha[:, -1], axis=-1)  # [S]
            if not np.all(np.isfinite(ll)):
                raise ValueError(
                    "a training sequence has probability 0 under the current model; EM cannot continue."
                )
            total += float(ll.sum())
            # gamma <= 1 because alpha_t(i) beta_t(i) <= P(O): the exponent is <= 0, no overflow
            gamma = np.exp(log_alpha + log_beta - ll[:, None, None])  # [S, T, N]
            pi_c += gamma[:, 0].sum(axis=0)
            np.add.at(B_c, obs.ravel(), gamma.reshape(-1, N))
            if obs.shape[1] > 1:
                A_c += self._transition_counts(log_alpha[:, :-1], log_emit[:, 1:] + log_beta[:, 1:], ll)
        for counts, name in ((pi_c, "initial"), (A_c, "transition"), (B_c, "emission")):
            if not np.all(np.isfinite(counts)):
                raise ValueError(
                    f"the expected {name} counts contain NaN or infinite values (the model has "
                    f"{N} states, {M} symbols); EM cannot continue. Check the starting model for "
                    "extreme values, or report this as a bug."
                )
        return pi_c, A_c, B_c.T, total

    def _transition_counts(self, left: np.ndarray, right: np.ndarray, ll: np.ndarray) -> np.ndarray:
        """Expected transition counts ``sum_{s,t} xi_t(i, j)`` [N, N], overflow-free.

        ``left = log alpha_t``, ``right = log b(o_{t+1}) + log beta_{t+1}`` and
        ``xi_t(i, j) = alpha_t(i) a_ij b_j(o_{t+1}) beta_{t+1}(j) / P(O)``; ``left``/``right``: [S, T-1, N],
        ``ll``: [S]. Fast path: with ``u = exp(left - max left)`` and ``v = exp(right - max right)``
        (entries <= 1), ``xi_t = u_i a_ij v_j / z_t`` where ``z_t = u^T A v`` (each xi_t sums to 1, as
        ``sum_ij alpha_t(i) a_ij b_j beta_{t+1}(j) = P(O)`` at every t). Steps where ``z_t`` is too small
        to divide by safely (the large alphas and betas are linked only by zero or tiny transitions,
        typical of long sequences and sparse ``A``) are computed entirely in log space instead.
        """
        N = self.n_states
        c, d = left.max(axis=-1, keepdims=True), right.max(axis=-1, keepdims=True)
        u, v = np.exp(left - c), np.exp(right - d)  # [S, T-1, N], max entry 1 each
        z = np.einsum("sti,sti->st", u @ self.A, v)  # [S, T-1]: sum_ij u_i a_ij v_j
        safe = z > _SAFE_SCALE
        w = np.divide(1.0, z, out=np.zeros_like(z), where=safe)
        counts = self.A * np.einsum("st,sti,stj->ij", w, u, v, optimize=True)
        if not safe.all():
            s_idx, t_idx = np.nonzero(~safe)
            chunk = max(1, _CHUNK_ELEMENTS // (N * N))
            for k in range(0, s_idx.size, chunk):
                s_k, t_k = s_idx[k : k + chunk], t_idx[k : k + chunk]
                log_xi = (
                    left[s_k, t_k][:, :, None]
                    + self.log_A
                    + right[s_k, t_k][:, None, :]
                    - ll[s_k][:, None, None]
                )  # [K, N, N], every entry <= 0 (up to rounding)
                counts += np.exp(log_xi).sum(axis=0)
        return counts

    def baum_welch(
        self,
        sequences: Iterable[Any],
        n_iter: int = 100,
        tol: float = 1e-6,
        update: Iterable[str] = ("pi", "A", "B"),
        progress: bool = False,
    ) -> tuple[HMM, list[float]]:
        """Baum-Welch (EM) re-estimation from observation sequences only, starting from this model.

        Each iteration computes expected counts with forward-backward (E-step) and renormalises them
        (M-step): ``π ← E[#start in i]``, ``A[i] ← E[#i→j] / E[#from i]``, ``B[j] ← E[#j emits k] / E[#in j]``.
        ``update`` chooses which of ``"pi"``, ``"A"``, ``"B"`` are re-estimated (the others stay fixed).
        Stops after ``n_iter`` updates or when the log-likelihood gains less than ``tol`` (``-inf``: never).
        Expected counts come from log-space forward-backward, so long sequences and zero transitions
        are safe; a row that gets no expected counts (a state never visited) keeps its old values.
        Returns ``(new_model, history)`` where ``history[k]`` is the total log-likelihood after ``k``
        updates (``history[0]``: this model); EM guarantees it never decreases.
        """
        if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
            error = ValueError if isinstance(sequences, (str, bytes)) else TypeError
            raise error(
                f"sequences must be a list of observation sequences (1-D arrays of symbol ids), got "
                f"{type(sequences).__name__}; pass e.g. [hmm.encode(symbols)] for a single one."
            )
        seqs = []
        for i, s in enumerate(sequences):
            if np.ndim(s) != 1:
                raise ValueError(
                    f"sequences[{i}] is not a 1-D sequence of symbol ids (ndim={np.ndim(s)}); "
                    "pass a list of sequences, e.g. [obs] for a single one."
                )
            seqs.append(self._check_obs(s))
        if not seqs:
            raise ValueError("sequences is empty; Baum-Welch needs at least one observation sequence.")
        if isinstance(update, (str, bytes)) or not isinstance(update, Iterable):
            raise TypeError(
                "update must be a collection of parameter names, e.g. ('A',) or ('pi', 'A', 'B'), "
                f"got {update!r}."
            )
        update = list(update)
        if not all(isinstance(u, str) and u in ("pi", "A", "B") for u in update):
            raise ValueError(
                f"update may only contain 'pi', 'A', 'B', got {update!r}; e.g. update=('A', 'B')."
            )
        update = set(update)
        n_iter = _check_int(n_iter, "n_iter", 0, " (the number of EM updates)")
        tol = _check_real(
            tol,
            "tol",
            "the smallest log-likelihood gain to continue; -inf never stops early",
            allow_neg_inf=True,
        )

        def normalise(counts: np.ndarray, old: np.ndarray) -> np.ndarray:
            if not np.all(np.isfinite(counts)):  # never let NaN rows fall through to "keep old values"
                raise ValueError("Baum-Welch produced non-finite expected counts; EM cannot continue.")
            totals = counts.sum(axis=-1, keepdims=True)
            # a row that received no expected counts (a state never visited) keeps its old values
            return np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), old)

        model, history = self, []
        steps = range(n_iter)
        if progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="Baum-Welch", leave=False, mininterval=0.5)
        for _ in steps:
            pi_c, A_c, B_c, ll = model._expected_counts(seqs)
            if history and ll - history[-1] < tol:
                history.append(ll)
                return model, history
            history.append(ll)
            model = HMM(
                normalise(pi_c, model.pi) if "pi" in update else model.pi,
                normalise(A_c, model.A) if "A" in update else model.A,
                normalise(B_c, model.B) if "B" in update else model.B,
                states=self.states,
                symbols=self.symbols,
            )
        history.append(sum(model.log_likelihood(s) for s in seqs))
        return model, history

    @staticmethod
    def _tagged_pairs(tagged_sentences: Any) -> list[list[tuple[Hashable, Hashable]]]:
        """``(symbol, state, ...)`` sentences -> lists of ``(symbol, state)``; untagged input is refused."""
        hint = "pass a list of sentences of (symbol, state) pairs, e.g. [[('the', 'DT'), ('dog', 'NN')]]"
        if not isinstance(tagged_sentences, Iterable):
            raise TypeError(
                "tagged_sentences must be a list of tagged sentences, "
                f"got {type(tagged_sentences).__name__}; {hint}."
            )
        if isinstance(tagged_sentences, (str, bytes)):
            raise ValueError(
                f"tagged_sentences must be a list of tagged sentences, got {tagged_sentences!r:.60}; {hint}."
            )
        data = []
        for i, sent in enumerate(tagged_sentences):
            if isinstance(sent, (str, bytes)) or not isinstance(sent, (Iterable, np.ndarray)):
                raise ValueError(
                    f"tagged_sentences[{i}] is {type(sent).__name__} {sent!r:.40}, not a list of "
                    f"(symbol, state) pairs (untagged text is not accepted); {hint}."
                )
            pairs = []
            for j, item in enumerate(sent):
                if not _is_record(item):
                    raise ValueError(
                        f"tagged_sentences[{i}][{j}] is {item!r:.40}, not a (symbol, state) pair: untagged "
                        "sentences (plain strings) cannot be used to count states, and a single tagged "
                        f"sentence must be wrapped in a list, [sentence]; {hint}."
                    )
                try:
                    hash((item[0], item[1]))
                except TypeError as err:
                    raise TypeError(
                        f"tagged_sentences[{i}][{j}] has an unhashable symbol or state: {err}; "
                        "use e.g. strings."
                    ) from err
                pairs.append((item[0], item[1]))
            if pairs:
                data.append(pairs)
        if not data:
            raise ValueError(
                f"tagged_sentences is empty; fit_counts needs at least one non-empty sequence; {hint}."
            )
        return data

    @staticmethod
    def _sorted_labels(labels: set[Hashable], what: str) -> list[Hashable]:
        """The labels seen in the data, sorted; labels of mixed types ask for an explicit order."""
        try:
            return sorted(labels)
        except TypeError as err:
            raise TypeError(
                f"the {what} in the data cannot be sorted ({err}); pass {what}=[...] to fix their order."
            ) from err

    @classmethod
    def fit_counts(
        cls,
        tagged_sentences: Iterable[Sequence[Sequence[Hashable]]],
        states: Sequence[Hashable] | None = None,
        symbols: Sequence[Hashable] | None = None,
        transition_smoothing: float = 0.0,
        emission_smoothing: float = 0.0,
    ) -> HMM:
        """Supervised maximum-likelihood estimate from sequences of ``(symbol, state)`` pairs.

        ``π[i] = (c(start in i) + k_t) / (#sequences + N k_t)``,
        ``A[i, j] = (c(i → j) + k_t) / (c(i → ·) + N k_t)``,
        ``B[j, v] = (c(j emits v) + k_e) / (c(j) + M k_e)`` — add-k (Lidstone) smoothing with
        ``k_t = transition_smoothing`` and ``k_e = emission_smoothing`` (0 = plain counts).
        Items may carry extra fields (e.g. CoNLL's ``(word, POS, chunk)``); only the first two are used.
        ``states`` / ``symbols`` fix the label sets (default: sorted labels seen in the data).
        A row with no counts and no smoothing (e.g. a state never followed by another) becomes uniform.
        Untagged input (sentences of plain strings, or strings) is refused, never split into letters.
        """
        k_t = _check_real(transition_smoothing, "transition_smoothing", "an add-k constant >= 0, e.g. 0.1")
        k_e = _check_real(emission_smoothing, "emission_smoothing", "an add-k constant >= 0, e.g. 0.1")
        for k, name in ((k_t, "transition_smoothing"), (k_e, "emission_smoothing")):
            if k < 0:
                raise ValueError(f"{name} must be >= 0 (an add-k constant; 0 = no smoothing), got {k}.")
        data = cls._tagged_pairs(tagged_sentences)
        if states is None:
            states = cls._sorted_labels({t for s in data for _, t in s}, "states")
        if symbols is None:
            symbols = cls._sorted_labels({w for s in data for w, _ in s}, "symbols")
        states, symbols = cls._label_list(states, "states"), cls._label_list(symbols, "symbols")
        si = {t: i for i, t in enumerate(states)}
        vi = {w: i for i, w in enumerate(symbols)}
        N, M = len(si), len(vi)
        pi_c, A_c, B_c = np.zeros(N), np.zeros((N, N)), np.zeros((N, M))
        for i, sent in enumerate(data):
            for labels, index, what in (
                ([t for _, t in sent], si, "states"),
                ([w for w, _ in sent], vi, "symbols"),
            ):
                missing = [x for x in labels if x not in index]
                if missing:
                    raise ValueError(
                        f"label {missing[0]!r} is not in the given {what} (it occurs in sentence {i}); "
                        f"add it to {what}=[...] or pass {what}=None to use the labels seen in the data."
                    )
            tags = [si[t] for _, t in sent]
            words = [vi[w] for w, _ in sent]
            pi_c[tags[0]] += 1
            np.add.at(A_c, (tags[:-1], tags[1:]), 1)
            np.add.at(B_c, (tags, words), 1)

        def normalise(counts: np.ndarray, k: float) -> np.ndarray:
            counts = counts + k
            totals = counts.sum(axis=-1, keepdims=True)
            return np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / counts.shape[-1])

        return cls(
            normalise(pi_c, k_t),
            normalise(A_c, k_t),
            normalise(B_c, k_e),
            states=states,
            symbols=symbols,
        )
