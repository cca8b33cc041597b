"""Recurrent cells from their equations, a stacked / bidirectional wrapper, and RNN models.

From scratch, checked against PyTorch with copied weights (see ``tests/test_rnn.py``):

* :class:`RNNCell` - the Elman cell ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``;
* :class:`LSTMCell` - long short-term memory (长短期记忆网络), with an optional peephole variant;
* :class:`GRUCell` - gated recurrent unit (门控循环单元), PyTorch's form or the original one of Cho et al.;
* :class:`RNN` - stacks cells into layers and directions; outputs are laid out exactly like
  ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` and weights copy both ways (:meth:`RNN.copy_from_torch`,
  :meth:`RNN.copy_to_torch`, :meth:`RNN.from_torch`, :meth:`RNN.to_torch`).

Models built on PyTorch's fast fused recurrent layers, reused by later notebooks:

* :class:`SequenceClassifier` - embedding, RNN over the packed batch, linear layer on the final state;
* :class:`ConditionalCharLM` - a character language model conditioned on a class (e.g. a name's language),
  with :meth:`ConditionalCharLM.generate` and :func:`sample_next` (temperature and top-k sampling);
* :func:`chrono_init_` - gate biases that make an ``nn.LSTM`` / ``nn.GRU`` start out remembering.

Parameters use PyTorch's names and layout so that copying is a plain ``copy_``: ``weight_ih`` holds the
input-to-hidden matrices of all gates stacked along the first dimension (order i, f, g, o for the LSTM,
r, z, n for the GRU), ``weight_hh`` the hidden-to-hidden ones, ``bias_ih`` / ``bias_hh`` the two biases.

Shape legend: B batch, T time, I input features, H hidden, V vocabulary, C classes.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = [
    "CELL_TYPES",
    "ConditionalCharLM",
    "GRUCell",
    "LSTMCell",
    "RNN",
    "RNNCell",
    "SequenceClassifier",
    "chrono_init_",
    "sample_next",
]

CELL_TYPES = ("rnn", "lstm", "gru")
_TORCH_CELLS: dict[str, type[nn.RNNCellBase]] = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}
_TORCH_LAYERS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _check_cell_name(cell: str) -> str:
    if not isinstance(cell, str) or cell.lower() not in CELL_TYPES:
        raise ValueError(f"unknown cell {cell!r}; use one of {CELL_TYPES}")
    return cell.lower()


def _check_positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_positive_ints(**values: int) -> None:
    """Each keyword argument must be a positive int; the error names the argument."""
    for name, value in values.items():
        _check_positive_int(value, name)


def _check_pad_idx(pad_idx: int, vocab_size: int) -> None:
    if isinstance(pad_idx, bool) or not isinstance(pad_idx, int) or not 0 <= pad_idx < vocab_size:
        raise ValueError(f"pad_idx must be an int in [0, vocab_size) = [0, {vocab_size}), got {pad_idx!r}")


def _check_dropout(dropout: float, name: str = "dropout") -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"{name} must be a float in [0, 1), got {dropout!r}")


def _autocasting(x: Tensor) -> bool:
    """Whether ``torch.autocast`` is on for x's device (then mixed dtypes are expected and fine)."""
    try:
        return torch.is_autocast_enabled(x.device.type)
    except (TypeError, RuntimeError):  # an older PyTorch, or a device type autocast does not know
        return torch.is_autocast_enabled()


def _check_features(x: Tensor, weight: Tensor, who: str, name: str = "x") -> None:
    """x must have the dtype and device of the module's weights (as ``nn.LSTM`` requires), unless autocasting."""
    if x.device != weight.device:
        raise ValueError(
            f"{who}: {name} is on {x.device} but the weights are on {weight.device}; "
            f"move one of them, e.g. {name}.to({str(weight.device)!r})"
        )
    if _autocasting(x) or x.dtype == weight.dtype:
        return
    if not x.is_floating_point():
        raise ValueError(
            f"{who} expects {name} of float features (dtype {weight.dtype}), got dtype {x.dtype}; "
            "token ids must be embedded first (e.g. with nn.Embedding), other values converted with "
            f"{name}.to({weight.dtype})"
        )
    raise ValueError(
        f"{who}: {name} has dtype {x.dtype} but the weights have dtype {weight.dtype}; convert it "
        f"with {name}.to({weight.dtype}) or the module with .to({x.dtype})"
    )


def _check_state_like(s: Tensor, x: Tensor, name: str, who: str) -> None:
    """A state tensor must have the input's dtype and device (as ``nn.LSTM`` requires), unless autocasting."""
    if s.device != x.device:
        raise ValueError(
            f"{who}: {name} is on {s.device} but the input is on {x.device}; use {name}.to(x.device)"
        )
    if s.dtype != x.dtype and not _autocasting(x):
        raise ValueError(
            f"{who}: {name} has dtype {s.dtype} but the input has dtype {x.dtype}; they must match: "
            f"use {name}.to(x.dtype)"
        )


# ----------------------------------------------------------------------------------------------------
# Cells
# ----------------------------------------------------------------------------------------------------


class _Cell(nn.Module):
    """Shared parts of the cells: parameters in PyTorch's layout, input checks and weight copying."""

    num_chunks = 1  # how many gate blocks are stacked in weight_ih / weight_hh
    torch_type: type[nn.RNNCellBase] = nn.RNNCellBase
    cell_name = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        _check_positive_int(input_size, "input_size")
        _check_positive_int(hidden_size, "hidden_size")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        n = self.num_chunks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(n, input_size))  # [gates*H, I]
        self.weight_hh = nn.Parameter(torch.empty(n, hidden_size))  # [gates*H, H]
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(n))
            self.bias_hh = nn.Parameter(torch.empty(n))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)]."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _affine(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """Both linear maps of every gate at once: ``(W_ih x + b_ih, W_hh h + b_hh)``, each [B, gates*H]."""
        return F.linear(x, self.weight_ih, self.bias_ih), F.linear(h, self.weight_hh, self.bias_hh)

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != self.input_size:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"{type(self).__name__} expects one time step x of shape [B, input_size] = [B, {self.input_size}], "
                f"got {got}; loop over time (or use RNN) for a [B, T, input_size] sequence"
            )
        _check_features(x, self.weight_ih, type(self).__name__)

    def _check_state(self, s: Tensor, x: Tensor, name: str) -> None:
        if not isinstance(s, Tensor) or tuple(s.shape) != (x.shape[0], self.hidden_size):
            got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
            raise ValueError(
                f"{name} must have shape [B, hidden_size] = [{x.shape[0]}, {self.hidden_size}], got {got}"
            )
        _check_state_like(s, x, name, type(self).__name__)

    def _zeros(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.shape[0], self.hidden_size)

    # -- weight copying ------------------------------------------------------------------------------

    def paired_parameters(
        self, module: nn.Module, layer: int = 0, reverse: bool = False
    ) -> list[tuple[str, nn.Parameter, nn.Parameter]]:
        """``(name, ours, theirs)`` for each parameter shared with a PyTorch cell or layer.

        ``module`` is the matching ``nn.*Cell`` or an ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``; for a layer,
        ``layer`` and ``reverse`` pick which of its cells (PyTorch's ``weight_ih_l{layer}[_reverse]``).
        """
        self._check_torch_module(module, layer, reverse)
        suffix = ""
        if isinstance(module, nn.RNNBase):
            suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        return [(n, getattr(self, n), getattr(module, n + suffix)) for n in names]

    def copy_from_torch(self, module: nn.Module, layer: int = 0, reverse: bool = False) -> None:
        """Copy the weights of a PyTorch cell (or of one cell of a PyTorch layer) into this cell."""
        with torch.no_grad():
            for _, ours, theirs in self.paired_parameters(module, layer, reverse):
                ours.copy_(theirs)

    def copy_to_torch(self, module: nn.Module, layer: int = 0, reverse: bool = False) -> None:
        """Copy this cell's weights into a PyTorch cell (or into one cell of a PyTorch layer)."""
        with torch.no_grad():
            for _, ours, theirs in self.paired_parameters(module, layer, reverse):
                theirs.copy_(ours)

    def _check_torch_module(self, module: nn.Module, layer: int, reverse: bool) -> None:
        layer_type = _TORCH_LAYERS[self.cell_name]
        if not isinstance(module, (self.torch_type, layer_type)):
            raise TypeError(
                f"{type(self).__name__} copies weights from/to nn.{self.torch_type.__name__} or "
                f"nn.{layer_type.__name__}, got {type(module).__name__}"
            )
        if isinstance(module, nn.RNNBase):
            if not 0 <= layer < module.num_layers or (reverse and not module.bidirectional):
                raise ValueError(
                    f"the {type(module).__name__} has {module.num_layers} layer(s), "
                    f"bidirectional={module.bidirectional}; it has no cell (layer={layer}, reverse={reverse})"
                )
            if getattr(module, "proj_size", 0):
                raise ValueError("nn.LSTM with proj_size > 0 has a projection this cell does not have")
            in_size = (
                module.input_size if layer == 0 else module.hidden_size * (2 if module.bidirectional else 1)
            )
        else:
            in_size = module.input_size
        theirs = (in_size, module.hidden_size, module.bias)
        ours = (self.input_size, self.hidden_size, self.bias)
        if theirs != ours:
            raise ValueError(
                f"size mismatch: (input_size, hidden_size, bias) is {ours} here but {theirs} in the module"
            )
        if self.cell_name == "rnn" and module.nonlinearity != self.nonlinearity:
            raise ValueError(
                f"nonlinearity mismatch: {self.nonlinearity!r} here, {module.nonlinearity!r} there"
            )


class RNNCell(_Cell):
    """The plain (Elman) recurrent cell, like ``nn.RNNCell``.

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)        (``nonlinearity="relu"`` uses ReLU instead)
    """

    num_chunks = 1
    torch_type = nn.RNNCell
    cell_name = "rnn"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """One time step. x: [B, I], h: [B, H] (zeros if None) -> the new hidden state h_t: [B, H]."""
        self._check_input(x)
        h = self._zeros(x) if h is None else h
        self._check_state(h, x, "h")
        x_part, h_part = self._affine(x, h)  # [B, H] each
        act = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        return act(x_part + h_part)


class LSTMCell(_Cell):
    """Long short-term memory cell (长短期记忆网络), like ``nn.LSTMCell``; ``peephole=True`` adds peepholes.

    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)           forget gate (遗忘门)
    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)           input gate (输入门)
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)        candidate cell (候选记忆)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                          cell state (细胞状态)
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)           output gate (输出门)
    h_t = o_t ⊙ tanh(c_t)                                    hidden state (隐藏状态)

    With ``peephole=True`` (Gers & Schmidhuber; the lecture's general LSTM) the gates also look at the
    cell: ``+ p_f ⊙ c_{t-1}`` in f_t, ``+ p_i ⊙ c_{t-1}`` in i_t and ``+ p_o ⊙ c_t`` in o_t, where p_* are
    vectors (diagonal weights). PyTorch has no peephole LSTM, so such a cell cannot be copied to nn.LSTM.
    The gates are stacked in ``weight_ih`` / ``weight_hh`` in PyTorch's order i, f, g, o.
    """

    num_chunks = 4
    torch_type = nn.LSTMCell
    cell_name = "lstm"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, peephole: bool = False) -> None:
        self.peephole = peephole
        super().__init__(input_size, hidden_size, bias)
        if peephole:
            bound = 1.0 / math.sqrt(hidden_size)
            self.peephole_i = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))  # p_i: [H]
            self.peephole_f = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))  # p_f: [H]
            self.peephole_o = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))  # p_o: [H]

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """One time step. x: [B, I], state = (h_{t-1}, c_{t-1}) each [B, H] (zeros if None) -> (h_t, c_t)."""
        self._check_input(x)
        if state is None:
            h, c = self._zeros(x), self._zeros(x)
        else:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ValueError("LSTMCell's state must be a pair (h, c) of [B, hidden_size] tensors")
            h, c = state
            self._check_state(h, x, "h")
            self._check_state(c, x, "c")
        x_i, x_f, x_g, x_o = F.linear(x, self.weight_ih, self.bias_ih).chunk(4, dim=1)  # 4 x [B, H]
        h_i, h_f, h_g, h_o = F.linear(h, self.weight_hh, self.bias_hh).chunk(4, dim=1)  # 4 x [B, H]
        if self.peephole:
            f = torch.sigmoid(x_f + h_f + self.peephole_f * c)  # forget gate: how much of c_{t-1} to keep
            i = torch.sigmoid(x_i + h_i + self.peephole_i * c)  # input gate: how much of g_t to write
        else:
            f = torch.sigmoid(x_f + h_f)
            i = torch.sigmoid(x_i + h_i)
        g = torch.tanh(x_g + h_g)  # candidate cell: new content, computed like a plain RNN
        c_new = f * c + i * g  # cell update: keep part of the old memory, add part of the new
        if self.peephole:
            o = torch.sigmoid(x_o + h_o + self.peephole_o * c_new)  # output gate sees the new cell
        else:
            o = torch.sigmoid(x_o + h_o)  # output gate: how much of the cell to expose
        h_new = o * torch.tanh(c_new)  # hidden state
        return h_new, c_new

    def _check_torch_module(self, module: nn.Module, layer: int, reverse: bool) -> None:
        if self.peephole:
            raise ValueError(
                "this LSTMCell has peephole connections, which nn.LSTM / nn.LSTMCell do not have; "
                "build it with peephole=False to copy weights"
            )
        super()._check_torch_module(module, layer, reverse)


class GRUCell(_Cell):
    """Gated recurrent unit (门控循环单元), like ``nn.GRUCell``.

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)                 reset gate (重置门)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)                 update gate (更新门)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))      candidate state
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    PyTorch (and cuDNN) apply the reset gate *after* the matrix product, ``r_t ⊙ (W_hn h_{t-1} + b_hn)``
    (``reset_after=True``, the default). Cho et al. (2014) apply it *before*:
    ``n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)`` (``reset_after=False``; no PyTorch copy).
    Note z_t close to 1 *keeps* the old state here (as in Cho et al.); some texts swap z and 1 - z.
    The gates are stacked in ``weight_ih`` / ``weight_hh`` in PyTorch's order r, z, n.
    """

    num_chunks = 3
    torch_type = nn.GRUCell
    cell_name = "gru"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, reset_after: bool = True
    ) -> None:
        self.reset_after = reset_after
        super().__init__(input_size, hidden_size, bias)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """One time step. x: [B, I], h: [B, H] (zeros if None) -> the new hidden state h_t: [B, H]."""
        self._check_input(x)
        h = self._zeros(x) if h is None else h
        self._check_state(h, x, "h")
        x_r, x_z, x_n = F.linear(x, self.weight_ih, self.bias_ih).chunk(3, dim=1)  # 3 x [B, H]
        W_hr, W_hz, W_hn = self.weight_hh.chunk(3, dim=0)  # 3 x [H, H]
        b_hr, b_hz, b_hn = self.bias_hh.chunk(3) if self.bias else (None, None, None)
        r = torch.sigmoid(x_r + F.linear(h, W_hr, b_hr))  # reset gate
        z = torch.sigmoid(x_z + F.linear(h, W_hz, b_hz))  # update gate
        if self.reset_after:
            n = torch.tanh(x_n + r * F.linear(h, W_hn, b_hn))  # PyTorch: reset after the product
        else:
            n = torch.tanh(x_n + F.linear(r * h, W_hn, b_hn))  # Cho et al.: reset before the product
        return (1 - z) * n + z * h

    def _check_torch_module(self, module: nn.Module, layer: int, reverse: bool) -> None:
        if not self.reset_after:
            raise ValueError(
                "this GRUCell applies the reset gate before the matrix product (reset_after=False); "
                "nn.GRU applies it after, so the weights would not mean the same. Use reset_after=True."
            )
        super()._check_torch_module(module, layer, reverse)


# ----------------------------------------------------------------------------------------------------
# Stacked / bidirectional wrapper
# ----------------------------------------------------------------------------------------------------


def _reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of x: [B, T, F] in time within its own length (padding stays at the end)."""
    if lengths is None:
        return x.flip(1)
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device).expand(B, T)  # [B, T]
    L = lengths.to(x.device).unsqueeze(1)  # [B, 1]
    idx = torch.where(t < L, L - 1 - t, t)  # [B, T]
    return x.gather(1, idx.unsqueeze(-1).expand_as(x))


class RNN(nn.Module):
    """Stacked, optionally bidirectional recurrent layer built from the cells above.

    Drop-in for ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (same output layout), but slow: a Python loop over
    time. ``forward(x, hx=None, lengths=None)`` returns ``(output, h_n)``, or ``(output, (h_n, c_n))`` for
    the LSTM, with output: [B, T, D*H] (batch_first) and h_n, c_n: [num_layers*D, B, H] where D = 2 if
    bidirectional else 1. Row ``layer*D + d`` of h_n is layer ``layer``'s direction ``d`` (1 = backward).

    ``lengths`` ([B] ints in [1, T]) handles padded batches like a packed sequence: states stop at each
    sequence's end, the backward direction starts at its last real step, padded outputs are 0.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        batch_first: bool = True,
        dropout: float = 0.0,
        bias: bool = True,
        peephole: bool = False,
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        self.cell_type = _check_cell_name(cell)
        _check_positive_int(input_size, "input_size")
        _check_positive_int(hidden_size, "hidden_size")
        _check_positive_int(num_layers, "num_layers")
        _check_dropout(dropout)
        if peephole and self.cell_type != "lstm":
            raise ValueError("peephole=True only exists for cell='lstm'")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.batch_first, self.bias = bidirectional, batch_first, bias
        self.dropout = dropout
        self.peephole, self.nonlinearity = peephole, nonlinearity
        self.num_directions = 2 if bidirectional else 1
        cells = []
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * self.num_directions
            for _ in range(self.num_directions):
                if self.cell_type == "lstm":
                    cells.append(LSTMCell(in_size, hidden_size, bias=bias, peephole=peephole))
                elif self.cell_type == "gru":
                    cells.append(GRUCell(in_size, hidden_size, bias=bias))
                else:
                    cells.append(RNNCell(in_size, hidden_size, bias=bias, nonlinearity=nonlinearity))
        self.cells = nn.ModuleList(cells)  # index layer * D + direction, PyTorch's order

    def _check_lengths(self, lengths: Tensor, B: int, T: int) -> Tensor:
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"lengths must be a tensor (or list) of [B] = [{B}] ints, got {type(lengths).__name__}"
            ) from err
        if lengths.dim() != 1 or lengths.shape[0] != B:
            raise ValueError(f"lengths must have shape [B] = [{B}], got {tuple(lengths.shape)}")
        if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
        if B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
            raise ValueError(
                f"lengths must be in [1, T] = [1, {T}], got min {int(lengths.min())}, max {int(lengths.max())}"
            )
        return lengths

    def _initial_state(
        self, hx: Tensor | tuple[Tensor, Tensor] | None, x: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        B = x.shape[0]
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        if hx is None:
            h0 = x.new_zeros(shape)
            return h0, (x.new_zeros(shape) if self.cell_type == "lstm" else None)
        if self.cell_type == "lstm":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError("an LSTM's hx must be a pair (h_0, c_0)")
            h0, c0 = hx
        else:
            h0, c0 = hx, None
        for name, s in (("h_0", h0), ("c_0", c0)):
            if s is None and name == "c_0":
                continue
            if not isinstance(s, Tensor):
                raise ValueError(
                    f"{name} must be a tensor of shape [num_layers*num_directions, B, H] = {list(shape)}, "
                    f"got {type(s).__name__}"
                )
            if tuple(s.shape) != shape:
                raise ValueError(
                    f"{name} must have shape [num_layers*num_directions, B, H] = {list(shape)}, got {list(s.shape)}"
                )
            _check_state_like(s, x, name, "RNN")
        return h0, c0

    def forward(
        self,
        x: Tensor,
        hx: Tensor | tuple[Tensor, Tensor] | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """x: [B, T, I] (or [T, B, I] if not batch_first) -> (output, h_n) or (output, (h_n, c_n))."""
        layout = "[B, T, input_size]" if self.batch_first else "[T, B, input_size]"
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != self.input_size:
            got = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"RNN expects x of shape {layout} with input_size={self.input_size}, got {got}")
        if not self.batch_first:
            x = x.transpose(0, 1)  # -> [B, T, I]
        B, T, _ = x.shape
        if T == 0:
            raise ValueError(
                f"RNN got x of shape {list(x.shape if self.batch_first else x.transpose(0, 1).shape)} with "
                "T = 0 time steps; every sequence needs at least one step (drop empty sequences first)"
            )
        _check_features(x, self.cells[0].weight_ih, "RNN")
        if lengths is not None:
            lengths = self._check_lengths(lengths, B, T)
            alive = torch.arange(T, device=x.device)[None, :] < lengths.to(x.device)[:, None]  # [B, T]
        h0, c0 = self._initial_state(hx, x)
        is_lstm = self.cell_type == "lstm"
        layer_input, h_n, c_n = x, [], []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                cell = self.cells[k]
                seq = layer_input if d == 0 else _reverse_padded(layer_input, lengths)  # [B, T, I_layer]
                state = (h0[k], c0[k]) if is_lstm else h0[k]
                steps = []
                for t in range(T):
                    new = cell(seq[:, t], state)
                    if lengths is not None:  # finished sequences keep their last state
                        m = alive[:, t : t + 1]  # [B, 1]
                        if is_lstm:
                            new = (torch.where(m, new[0], state[0]), torch.where(m, new[1], state[1]))
                        else:
                            new = torch.where(m, new, state)
                    state = new
                    h_t = state[0] if is_lstm else state  # [B, H]
                    steps.append(h_t if lengths is None else h_t * alive[:, t : t + 1])
                out = torch.stack(steps, dim=1)  # [B, T, H]
                outputs.append(out if d == 0 else _reverse_padded(out, lengths))
                h_n.append(state[0] if is_lstm else state)
                if is_lstm:
                    c_n.append(state[1])
            layer_input = torch.cat(outputs, dim=-1)  # [B, T, D*H]
            if self.dropout > 0 and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
        output = layer_input if self.batch_first else layer_input.transpose(0, 1)
        h_n = torch.stack(h_n)  # [num_layers*D, B, H]
        return (output, (h_n, torch.stack(c_n))) if is_lstm else (output, h_n)

    # -- weight copying ------------------------------------------------------------------------------

    def _check_torch_layer(self, module: nn.Module) -> None:
        expected = _TORCH_LAYERS[self.cell_type]
        if not isinstance(module, expected):
            raise TypeError(
                f"RNN(cell={self.cell_type!r}) pairs with nn.{expected.__name__}, got {type(module).__name__}"
            )
        ours = (self.input_size, self.hidden_size, self.num_layers, self.bidirectional, self.bias)
        theirs = (module.input_size, module.hidden_size, module.num_layers, module.bidirectional, module.bias)
        if ours != theirs:
            raise ValueError(
                "shape mismatch: (input_size, hidden_size, num_layers, bidirectional, bias) is "
                f"{ours} here but {theirs} in the {type(module).__name__}"
            )

    def paired_parameters(self, module: nn.RNNBase) -> list[tuple[str, nn.Parameter, nn.Parameter]]:
        """``(torch_name, ours, theirs)`` for every parameter, e.g. ``("weight_hh_l1_reverse", ...)``."""
        self._check_torch_layer(module)
        pairs = []
        for k, cell in enumerate(self.cells):
            layer, d = divmod(k, self.num_directions)
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            for name, ours, theirs in cell.paired_parameters(module, layer=layer, reverse=bool(d)):
                pairs.append((name + suffix, ours, theirs))
        return pairs

    def copy_from_torch(self, module: nn.RNNBase) -> None:
        """Copy every weight of a matching ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` into this RNN."""
        with torch.no_grad():
            for _, ours, theirs in self.paired_parameters(module):
                ours.copy_(theirs)

    def copy_to_torch(self, module: nn.RNNBase) -> None:
        """Copy every weight of this RNN into a matching ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``."""
        with torch.no_grad():
            for _, ours, theirs in self.paired_parameters(module):
                theirs.copy_(ours)

    @classmethod
    def from_torch(cls, module: nn.RNNBase) -> RNN:
        """A from-scratch RNN with the same configuration and weights as a PyTorch recurrent layer."""
        types = {v: k for k, v in _TORCH_LAYERS.items()}
        if type(module) not in types:
            raise TypeError(f"expected nn.RNN, nn.LSTM or nn.GRU, got {type(module).__name__}")
        if getattr(module, "proj_size", 0):
            raise ValueError("nn.LSTM with proj_size > 0 is not supported")
        kwargs = {"nonlinearity": module.nonlinearity} if isinstance(module, nn.RNN) else {}
        rnn = cls(
            types[type(module)],
            module.input_size,
            module.hidden_size,
            num_layers=module.num_layers,
            bidirectional=module.bidirectional,
            batch_first=module.batch_first,
            dropout=module.dropout,
            bias=module.bias,
            **kwargs,
        )
        p = next(module.parameters())
        rnn = rnn.to(device=p.device, dtype=p.dtype)
        rnn.copy_from_torch(module)
        return rnn

    def to_torch(self) -> nn.RNNBase:
        """A PyTorch ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` with this RNN's configuration and weights."""
        if self.peephole:
            raise ValueError("nn.LSTM has no peephole connections; this RNN cannot be converted")
        kwargs = {"nonlinearity": self.nonlinearity} if self.cell_type == "rnn" else {}
        module = _TORCH_LAYERS[self.cell_type](
            self.input_size,
            self.hidden_size,
            num_layers=self.num_layers,
            bias=self.bias,
            batch_first=self.batch_first,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
            **kwargs,
        )
        p = next(self.parameters())
        module = module.to(device=p.device, dtype=p.dtype)
        self.copy_to_torch(module)
        return module


# ----------------------------------------------------------------------------------------------------
# Models on PyTorch's fast recurrent layers
# ----------------------------------------------------------------------------------------------------


def _check_token_batch(x: Tensor, lengths: Tensor, vocab_size: int, who: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 2:
        got = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{who} expects token ids x of shape [B, T], got {got}")
    if x.dtype.is_floating_point or x.dtype == torch.bool:
        raise ValueError(f"{who} expects integer token ids (torch.long), got dtype {x.dtype}")
    if x.numel() and (int(x.min()) < 0 or int(x.max()) >= vocab_size):
        raise ValueError(
            f"token ids must be in [0, vocab_size) = [0, {vocab_size}), got min {int(x.min())}, "
            f"max {int(x.max())}; was the batch encoded with the same vocabulary?"
        )
    B, T = x.shape
    if T == 0:
        raise ValueError(
            f"{who} got x of shape {list(x.shape)} with T = 0 time steps; every sequence needs at least "
            "one token (drop empty sequences first)"
        )
    if not isinstance(lengths, Tensor) or lengths.dim() != 1 or lengths.shape[0] != B:
        got = list(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__
        raise ValueError(f"{who} expects lengths of shape [B] = [{B}], got {got}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    if B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
        raise ValueError(
            f"lengths must be in [1, T] = [1, {T}] (every sequence needs at least one token), "
            f"got min {int(lengths.min())}, max {int(lengths.max())}"
        )


class SequenceClassifier(nn.Module):
    """Many-to-one (N vs 1) classifier: embedding -> RNN / LSTM / GRU -> final hidden state -> linear.

    ``forward(x, lengths)`` with x: [B, T] token ids (padded with ``pad_idx``) and lengths: [B] returns
    logits: [B, C]. The batch is packed (``pack_padded_sequence(..., enforce_sorted=False)``), so padding
    never reaches the recurrence: a sequence gets the same logits alone or padded inside a batch.
    (A batch without padding skips the packing: the result is the same, and faster on the CPU.)
    For a bidirectional model the feature is [forward h_T ; backward h_1] of the last layer.
    Dropout (if > 0) is applied to the embeddings, between layers and to the final feature.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        emb_dim: int = 64,
        hidden_size: int = 128,
        cell: str = "gru",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        pad_idx: int = 0,
    ) -> None:
        super().__init__()
        self.cell_type = _check_cell_name(cell)
        _check_positive_ints(
            vocab_size=vocab_size,
            num_classes=num_classes,
            emb_dim=emb_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )
        _check_dropout(dropout)
        _check_pad_idx(pad_idx, vocab_size)
        self.vocab_size, self.num_classes = vocab_size, num_classes
        self.num_directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.rnn = _TORCH_LAYERS[self.cell_type](
            emb_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.num_directions * hidden_size, num_classes)

    def encode(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The sequence feature: x: [B, T], lengths: [B] -> [B, D*H] (last layer's final state(s))."""
        _check_token_batch(x, lengths, self.vocab_size, type(self).__name__)
        emb = self.dropout(self.embedding(x))  # [B, T, E]
        if bool((lengths == x.shape[1]).all()):  # no padding: same result, and nn.GRU / nn.RNN run faster
            _, h_n = self.rnn(emb)
        else:
            packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, h_n = self.rnn(packed)
        if self.cell_type == "lstm":
            h_n = h_n[0]  # (h_n, c_n) -> h_n
        last = h_n[-self.num_directions :]  # [D, B, H]: the last layer's directions
        return torch.cat(list(last), dim=-1)  # [B, D*H]

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x: [B, T] token ids, lengths: [B] -> logits [B, C]."""
        return self.classifier(self.dropout(self.encode(x, lengths)))


def chrono_init_(module: nn.Module, t_max: float, generator: torch.Generator | None = None) -> None:
    """Chrono initialisation (Tallec & Ollivier, 2018) of an ``nn.LSTM`` or ``nn.GRU``, in place.

    Gates decide how long a unit remembers: a forget gate f keeps a memory for about 1 / (1 - f) steps.
    PyTorch's default biases put every gate near 0.5 (memory of ~2 steps). Chrono sets, per unit,
    ``b = log(u)`` with u ~ Uniform[1, t_max - 1]; then f = sigmoid(b) = u / (1 + u), a memory of 1 + u
    steps, so memories span 2 .. t_max steps from the start. The LSTM gets forget bias +b and input
    bias -b; the GRU, whose update gate z keeps the old state (h_t = (1 - z) n + z h_{t-1}), gets update
    bias +b. The hidden-to-hidden biases of these gates are zeroed.
    """
    if isinstance(module, nn.LSTM):
        keep, write = 1, 0  # gate blocks i, f, g, o: keep = forget (f), write = input (i)
    elif isinstance(module, nn.GRU):
        keep, write = 1, None  # gate blocks r, z, n: keep = update (z)
    else:
        raise TypeError(f"chrono_init_ needs an nn.LSTM or nn.GRU, got {type(module).__name__}")
    if not module.bias:
        raise ValueError("chrono_init_ sets gate biases; build the module with bias=True")
    if not t_max > 2:
        raise ValueError(f"t_max (the longest dependency, in steps) must be > 2, got {t_max}")
    H = module.hidden_size
    with torch.no_grad():
        for name, b_ih in module.named_parameters():
            if not name.startswith("bias_ih"):
                continue
            b_hh = getattr(module, name.replace("bias_ih", "bias_hh"))
            u = torch.rand(H, generator=generator) * (t_max - 2) + 1  # Uniform[1, t_max - 1]
            b = torch.log(u).to(b_ih)  # [H]
            b_ih[keep * H : (keep + 1) * H] = b
            b_hh[keep * H : (keep + 1) * H] = 0
            if write is not None:
                b_ih[write * H : (write + 1) * H] = -b
                b_hh[write * H : (write + 1) * H] = 0


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sample one token per row from logits: [B, V] -> ids [B].

    Divides the logits by ``temperature`` (< 1 sharper, > 1 flatter; 0 means greedy argmax), keeps only
    the ``top_k`` most likely tokens (None keeps all), then samples from the softmax. A logit of
    ``-inf`` bans its token; a row of ``+inf`` logits samples among those tokens. NaN logits, or a row
    whose every token is banned, raise ValueError.
    """
    if not isinstance(logits, Tensor) or logits.dim() != 2:
        got = list(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"sample_next expects logits of shape [B, V], got {got}")
    if logits.is_complex():
        raise ValueError(f"sample_next expects real-valued logits, got dtype {logits.dtype}")
    if isinstance(temperature, Tensor) and temperature.numel() == 1 and not temperature.is_complex():
        temperature = temperature.item()
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, numbers.Real)
        or not 0 <= temperature < math.inf
    ):
        raise ValueError(
            f"temperature must be a finite number >= 0 (0 = greedy, 1 = the model's distribution), "
            f"got {temperature!r}"
        )
    V = logits.shape[1]
    if V == 0:
        raise ValueError(f"sample_next got logits of shape {list(logits.shape)}: there are no tokens (V = 0)")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= V):
        raise ValueError(f"top_k must be None or an int in [1, V] = [1, {V}], got {top_k!r}")
    if logits.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=logits.device)
    logits = logits.detach()
    logits = (
        logits.float()
        if logits.dtype in (torch.float16, torch.bfloat16) or not logits.is_floating_point()
        else logits
    )
    nan_rows = torch.isnan(logits).any(dim=-1)
    if bool(nan_rows.any()):
        rows = nan_rows.nonzero().flatten().tolist()
        raise ValueError(
            f"logits contain NaN (in row(s) {rows[:10]}{' ...' if len(rows) > 10 else ''}); the model's output "
            "is broken (e.g. diverged training or a bad input): check it with torch.isnan(logits)"
        )
    banned_rows = (logits == -math.inf).all(dim=-1)
    if bool(banned_rows.any()):
        rows = banned_rows.nonzero().flatten().tolist()
        raise ValueError(
            f"every token is banned (all logits are -inf) in row(s) {rows[:10]}{' ...' if len(rows) > 10 else ''}; "
            "nothing can be sampled: leave at least one token allowed (check banned ids / masks)"
        )
    posinf = logits == math.inf
    inf_rows = posinf.any(dim=-1, keepdim=True)  # [B, 1]
    if bool(inf_rows.any()):  # the limit of the softmax: all mass on the +inf tokens, shared equally
        logits = torch.where(inf_rows, torch.where(posinf, 0.0, -math.inf).to(logits.dtype), logits)
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits - logits.max(dim=-1, keepdim=True).values  # max 0: no overflow when dividing
    logits = logits.double() / temperature  # float64: a tiny temperature does not round to 0
    if top_k is not None and top_k < V:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # [B, 1]: the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return _multinomial(torch.softmax(logits, dim=-1), generator)  # softmax: [B, V]


def _multinomial(probs: Tensor, generator: torch.Generator | None) -> Tensor:
    """One draw per row of probs (B, V) -> (B,), with ``generator`` on the CPU or on probs' device type.

    Device types are compared, not devices: ``torch.Generator(device="cuda").device`` is ``cuda`` while a
    tensor's is ``cuda:0``, and the two are not equal."""
    if generator is not None and generator.device.type != probs.device.type:  # a CPU generator, GPU probs
        return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(probs.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


class ConditionalCharLM(nn.Module):
    """Character-level LSTM language model conditioned on a class (one vs many, 1 vs N).

    At every step the input is [char embedding ; class embedding], so the class (e.g. the language of
    a name) steers the whole sequence: P(c_t | c_<t, class). ``forward(x, cls)`` with x: [B, T] and
    cls: [B] returns next-character logits [B, T, V]. Train on ``<bos> + name`` -> ``name + <eos>``
    with cross-entropy that ignores ``pad_idx``; generate with :meth:`generate`.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        emb_dim: int = 32,
        class_dim: int = 16,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        pad_idx: int = 0,
    ) -> None:
        super().__init__()
        _check_positive_ints(
            vocab_size=vocab_size,
            num_classes=num_classes,
            emb_dim=emb_dim,
            class_dim=class_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )
        _check_dropout(dropout)
        _check_pad_idx(pad_idx, vocab_size)
        self.vocab_size, self.num_classes, self.pad_idx = vocab_size, num_classes, pad_idx
        self.char_embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_idx)
        self.class_embedding = nn.Embedding(num_classes, class_dim)
        self.lstm = nn.LSTM(
            emb_dim + class_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)

    def _check(self, x: Tensor, cls: Tensor) -> None:
        if not isinstance(x, Tensor) or x.dim() != 2 or x.dtype.is_floating_point:
            got = f"{list(x.shape)} {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"ConditionalCharLM expects integer token ids x of shape [B, T], got {got}")
        if (
            not isinstance(cls, Tensor)
            or cls.dim() != 1
            or cls.shape[0] != x.shape[0]
            or cls.dtype.is_floating_point
        ):
            got = f"{list(cls.shape)} {cls.dtype}" if isinstance(cls, Tensor) else type(cls).__name__
            raise ValueError(f"cls must be integer class ids of shape [B] = [{x.shape[0]}], got {got}")
        for t, n, name in ((x, self.vocab_size, "token ids"), (cls, self.num_classes, "class ids")):
            if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
                raise ValueError(f"{name} must be in [0, {n}), got min {int(t.min())}, max {int(t.max())}")
        if x.shape[1] == 0:
            raise ValueError(
                f"ConditionalCharLM got x of shape {list(x.shape)} with T = 0 time steps; "
                "every sequence needs at least one token (start from <bos>)"
            )

    def _check_state(self, state: tuple[Tensor, Tensor], x: Tensor) -> None:
        shape = [self.lstm.num_layers, x.shape[0], self.lstm.hidden_size]
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"state must be a pair (h, c) of tensors of shape [num_layers, B, H] = {shape}")
        weight = self.lstm.weight_ih_l0
        for name, s in zip(("h", "c"), state, strict=True):
            if not isinstance(s, Tensor) or list(s.shape) != shape:
                got = list(s.shape) if isinstance(s, Tensor) else type(s).__name__
                raise ValueError(f"state {name} must have shape [num_layers, B, H] = {shape}, got {got}")
            _check_features(s, weight, "ConditionalCharLM's state", name=name)

    def forward(
        self, x: Tensor, cls: Tensor, state: tuple[Tensor, Tensor] | None = None, return_state: bool = False
    ) -> Tensor | tuple[Tensor, tuple[Tensor, Tensor]]:
        """x: [B, T] token ids, cls: [B] class ids -> logits [B, T, V] (and the LSTM state if asked)."""
        self._check(x, cls)
        if state is not None:
            self._check_state(state, x)
        T = x.shape[1]
        chars = self.char_embedding(x)  # [B, T, E]
        klass = self.class_embedding(cls).unsqueeze(1).expand(-1, T, -1)  # [B, T, K]
        out, state = self.lstm(self.dropout(torch.cat([chars, klass], dim=-1)), state)  # [B, T, H]
        logits = self.out(self.dropout(out))  # [B, T, V]
        return (logits, state) if return_state else logits

    @torch.no_grad()
    def generate(
        self,
        cls: Tensor,
        bos_idx: int,
        eos_idx: int,
        max_len: int = 20,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        banned: tuple[int, ...] = (),
    ) -> list[list[int]]:
        """Sample one sequence per class id in cls: [B], starting from ``<bos>``, until ``<eos>``.

        Returns the token ids of each sequence without ``<bos>`` / ``<eos>`` (at most ``max_len``).
        ``<pad>``, ``<bos>`` and the ids in ``banned`` (e.g. ``<unk>``) are never sampled.
        """
        cls = torch.as_tensor(cls)
        if cls.dim() != 1:
            raise ValueError(f"cls must be a 1-D tensor of class ids [B], got shape {list(cls.shape)}")
        _check_positive_int(max_len, "max_len")
        V = self.vocab_size
        for name, idx in (("bos_idx", bos_idx), ("eos_idx", eos_idx)):
            if isinstance(idx, bool) or not isinstance(idx, numbers.Integral) or not 0 <= idx < V:
                raise ValueError(f"{name} must be a token id in [0, vocab_size) = [0, {V}), got {idx!r}")
        if isinstance(banned, (str, bytes)) or not hasattr(banned, "__iter__"):
            raise ValueError(f"banned must be a tuple of token ids, got {type(banned).__name__}")
        banned = tuple(banned)
        for idx in banned:
            if isinstance(idx, bool) or not isinstance(idx, numbers.Integral) or not 0 <= idx < V:
                raise ValueError(f"banned must hold token ids in [0, vocab_size) = [0, {V}), got {idx!r}")
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            cls = cls.to(device)
            B = cls.shape[0]
            x = torch.full((B, 1), bos_idx, dtype=torch.long, device=device)  # [B, 1]
            state, done = None, torch.zeros(B, dtype=torch.bool, device=device)
            seqs: list[list[int]] = [[] for _ in range(B)]
            never = [self.pad_idx, bos_idx, *banned]
            for _ in range(max_len):
                logits, state = self(x, cls, state, return_state=True)  # [B, 1, V]
                logits = logits[:, -1].clone()  # [B, V]
                logits[:, never] = float("-inf")
                nxt = sample_next(logits, temperature, top_k, generator)  # [B]
                for b in range(B):
                    if not done[b] and int(nxt[b]) != eos_idx:
                        seqs[b].append(int(nxt[b]))
                done |= nxt == eos_idx
                if bool(done.all()):
                    break
                x = nxt.unsqueeze(1)
        finally:
            self.train(was_training)
        return seqs
