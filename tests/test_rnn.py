"""Tests for course_utils.rnn: the from-scratch cells and RNN wrapper against PyTorch (copied weights,
outputs, final states and gradients), brute-force references for the variants PyTorch lacks, and the
SequenceClassifier / ConditionalCharLM models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from course_utils.rnn import (
    RNN,
    ConditionalCharLM,
    GRUCell,
    LSTMCell,
    RNNCell,
    SequenceClassifier,
    chrono_init_,
    sample_next,
)

TORCH_CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}
OUR_CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
TORCH_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _weighted_sum(tensors, seed: int = 1) -> torch.Tensor:
    """A scalar that depends on every element with a different random weight (so gradients are rich)."""
    g = torch.Generator().manual_seed(seed)
    return sum((t * torch.randn(t.shape, generator=g, dtype=t.dtype)).sum() for t in tensors)


def _flat(result) -> list[torch.Tensor]:
    output, state = result
    return [output, *state] if isinstance(state, tuple) else [output, state]


# ----------------------------------------------------------------------------------------------------
# Cells against nn.RNNCell / nn.LSTMCell / nn.GRUCell
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch_outputs_and_gradients(kind, bias):
    torch.manual_seed(0)
    ref = TORCH_CELLS[kind](5, 7, bias=bias)
    ours = OUR_CELLS[kind](5, 7, bias=bias)
    ours.copy_from_torch(ref)
    x = torch.randn(3, 5)
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    state = (torch.randn(3, 7), torch.randn(3, 7)) if kind == "lstm" else torch.randn(3, 7)
    out_ref, out_ours = ref(x_ref, state), ours(x_ours, state)
    outs_ref = list(out_ref) if kind == "lstm" else [out_ref]
    outs_ours = list(out_ours) if kind == "lstm" else [out_ours]
    for a, b in zip(outs_ours, outs_ref, strict=True):
        torch.testing.assert_close(a, b)
    _weighted_sum(outs_ref).backward()
    _weighted_sum(outs_ours).backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad)
    pairs = ours.paired_parameters(ref)
    assert len(pairs) == (4 if bias else 2)
    for name, a, b in pairs:
        torch.testing.assert_close(a.grad, b.grad, msg=f"gradient of {name} differs")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cell_default_state_is_zeros_and_copy_to_torch(kind):
    torch.manual_seed(0)
    ours = OUR_CELLS[kind](4, 6)
    ref = TORCH_CELLS[kind](4, 6)
    ours.copy_to_torch(ref)
    x = torch.randn(2, 4)
    a, b = ours(x), ref(x)
    for u, v in zip(a if kind == "lstm" else [a], b if kind == "lstm" else [b], strict=True):
        torch.testing.assert_close(u, v)


def test_lstm_cell_gates_follow_the_equations_in_pytorch_order():
    """Brute force: compute the gates by hand from the stacked weights (order i, f, g, o)."""
    torch.manual_seed(0)
    cell = LSTMCell(3, 2).double()
    x, h, c = torch.randn(1, 3).double(), torch.randn(1, 2).double(), torch.randn(1, 2).double()
    W, U, b = cell.weight_ih.detach(), cell.weight_hh.detach(), (cell.bias_ih + cell.bias_hh).detach()
    pre = x @ W.T + h @ U.T + b
    sig = torch.sigmoid
    i, f, g, o = sig(pre[:, 0:2]), sig(pre[:, 2:4]), torch.tanh(pre[:, 4:6]), sig(pre[:, 6:8])
    c_ref = f * c + i * g
    h_ref = o * torch.tanh(c_ref)
    h_new, c_new = cell(x, (h, c))
    torch.testing.assert_close(c_new, c_ref)
    torch.testing.assert_close(h_new, h_ref)


# ----------------------------------------------------------------------------------------------------
# Peephole LSTM and Cho et al.'s GRU: no PyTorch module, so brute-force NumPy references
# ----------------------------------------------------------------------------------------------------


def _np_sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def test_peephole_lstm_matches_numpy_reference():
    torch.manual_seed(0)
    cell = LSTMCell(3, 4, peephole=True).double()
    x, h, c = (torch.randn(2, n, dtype=torch.float64) for n in (3, 4, 4))
    W = cell.weight_ih.detach().numpy()
    U = cell.weight_hh.detach().numpy()
    b = (cell.bias_ih + cell.bias_hh).detach().numpy()
    p_i, p_f, p_o = (getattr(cell, f"peephole_{k}").detach().numpy() for k in "ifo")
    xn, hn, cn = x.numpy(), h.numpy(), c.numpy()
    H = 4
    blocks = {k: slice(j * H, (j + 1) * H) for j, k in enumerate("ifgo")}

    def pre(k):
        return xn @ W[blocks[k]].T + hn @ U[blocks[k]].T + b[blocks[k]]

    i = _np_sigmoid(pre("i") + p_i * cn)
    f = _np_sigmoid(pre("f") + p_f * cn)
    g = np.tanh(pre("g"))
    c_ref = f * cn + i * g
    o = _np_sigmoid(pre("o") + p_o * c_ref)  # the output gate sees the *new* cell
    h_ref = o * np.tanh(c_ref)
    h_new, c_new = cell(x, (h, c))
    np.testing.assert_allclose(c_new.detach().numpy(), c_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_new.detach().numpy(), h_ref, rtol=1e-12, atol=1e-12)


def test_peephole_lstm_with_zero_peepholes_equals_plain_lstm_and_gradcheck():
    torch.manual_seed(0)
    ref = nn.LSTMCell(3, 4).double()
    cell = LSTMCell(3, 4, peephole=True).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(ref, name))
        x, h, c = torch.randn(2, 3).double(), torch.randn(2, 4).double(), torch.randn(2, 4).double()
        different = cell(x, (h, c))[0]
        for k in "ifo":
            getattr(cell, f"peephole_{k}").zero_()
        same = cell(x, (h, c))
    torch.testing.assert_close(same[0], ref(x, (h, c))[0])
    torch.testing.assert_close(same[1], ref(x, (h, c))[1])
    assert not torch.allclose(different, same[0]), "non-zero peepholes must change the output"
    # autograd's gradients of the peephole cell agree with finite differences
    for k in "ifo":
        nn.init.uniform_(getattr(cell, f"peephole_{k}"), -0.5, 0.5)
    inputs = tuple(t.clone().requires_grad_() for t in (x, h, c))
    assert torch.autograd.gradcheck(lambda a, b_, c_: cell(a, (b_, c_)), inputs)


def test_peephole_lstm_cannot_be_copied_to_torch():
    cell = LSTMCell(3, 4, peephole=True)
    with pytest.raises(ValueError, match="peephole"):
        cell.copy_to_torch(nn.LSTMCell(3, 4))
    with pytest.raises(ValueError, match="peephole"):
        RNN("lstm", 3, 4, peephole=True).to_torch()
    with pytest.raises(ValueError, match="peephole"):
        RNN("gru", 3, 4, peephole=True)


def test_gru_reset_before_matches_cho_et_al_and_differs_from_pytorch_form():
    torch.manual_seed(0)
    cho = GRUCell(3, 4, reset_after=False).double()
    torch_form = GRUCell(3, 4).double()
    torch_form.load_state_dict(cho.state_dict())
    x, h = torch.randn(2, 3).double(), torch.randn(2, 4).double()
    W = cho.weight_ih.detach().numpy()
    U = cho.weight_hh.detach().numpy()
    bi, bh = cho.bias_ih.detach().numpy(), cho.bias_hh.detach().numpy()
    xn, hn = x.numpy(), h.numpy()
    s = {k: slice(j * 4, (j + 1) * 4) for j, k in enumerate("rzn")}
    r = _np_sigmoid(xn @ W[s["r"]].T + bi[s["r"]] + hn @ U[s["r"]].T + bh[s["r"]])
    z = _np_sigmoid(xn @ W[s["z"]].T + bi[s["z"]] + hn @ U[s["z"]].T + bh[s["z"]])
    n = np.tanh(xn @ W[s["n"]].T + bi[s["n"]] + (r * hn) @ U[s["n"]].T + bh[s["n"]])
    h_ref = (1 - z) * n + z * hn
    np.testing.assert_allclose(cho(x, h).detach().numpy(), h_ref, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(cho(x, h), torch_form(x, h))
    with pytest.raises(ValueError, match="reset"):
        cho.copy_to_torch(nn.GRUCell(3, 4))


# ----------------------------------------------------------------------------------------------------
# The stacked / bidirectional wrapper against nn.RNN / nn.LSTM / nn.GRU
# ----------------------------------------------------------------------------------------------------


def _compare_layers(ours: RNN, ref: nn.RNNBase, x: torch.Tensor, hx=None, lengths=None) -> None:
    """Forward and backward through both; assert outputs, final states and every gradient match."""
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    if hx is not None:
        hx_ours = (
            tuple(t.clone().requires_grad_() for t in hx)
            if isinstance(hx, tuple)
            else hx.clone().requires_grad_()
        )
        hx_ref = (
            tuple(t.clone().requires_grad_() for t in hx)
            if isinstance(hx, tuple)
            else hx.clone().requires_grad_()
        )
    else:
        hx_ours = hx_ref = None
    res_ours = ours(x_ours, hx_ours, lengths=lengths)
    if lengths is None:
        res_ref = ref(x_ref, hx_ref)
    else:
        packed = pack_padded_sequence(x_ref, lengths, batch_first=ref.batch_first, enforce_sorted=False)
        out_p, state = ref(packed, hx_ref)
        T = x.shape[1] if ref.batch_first else x.shape[0]
        out, _ = pad_packed_sequence(out_p, batch_first=ref.batch_first, total_length=T)
        res_ref = (out, state)
    flat_ours, flat_ref = _flat(res_ours), _flat(res_ref)
    for name, a, b in zip(["output", "h_n", "c_n"][: len(flat_ours)], flat_ours, flat_ref, strict=True):
        assert a.shape == b.shape, f"{name}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
        torch.testing.assert_close(a, b, msg=f"{name} differs")
    _weighted_sum(flat_ours).backward()
    _weighted_sum(flat_ref).backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, msg="input gradient differs")
    if hx is not None:
        for a, b in zip(
            hx_ours if isinstance(hx_ours, tuple) else (hx_ours,),
            hx_ref if isinstance(hx_ref, tuple) else (hx_ref,),
            strict=True,
        ):
            torch.testing.assert_close(a.grad, b.grad, msg="initial-state gradient differs")
    pairs = ours.paired_parameters(ref)
    assert len(pairs) == len(list(ref.parameters()))
    for name, a, b in pairs:
        torch.testing.assert_close(a.grad, b.grad, msg=f"gradient of {name} differs")


LAYOUTS = [(1, False), (2, False), (1, True), (2, True)]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers,bidirectional", LAYOUTS)
def test_rnn_matches_torch_layer(kind, num_layers, bidirectional):
    torch.manual_seed(0)
    ref = TORCH_LAYERS[kind](4, 5, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    ours = RNN.from_torch(ref)
    D = 2 if bidirectional else 1
    x = torch.randn(3, 6, 4)
    h0 = torch.randn(num_layers * D, 3, 5)
    hx = (h0, torch.randn(num_layers * D, 3, 5)) if kind == "lstm" else h0
    _compare_layers(ours, ref, x, hx)
    out = ours(x)[0]
    assert out.shape == (3, 6, D * 5)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_rnn_time_major_and_zero_initial_state(kind):
    torch.manual_seed(0)
    ref = TORCH_LAYERS[kind](3, 4, num_layers=2, bidirectional=True)  # batch_first=False
    ours = RNN.from_torch(ref)
    assert ours.batch_first is False
    _compare_layers(ours, ref, torch.randn(5, 2, 3))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_rnn_variable_lengths_match_packed_sequence(kind):
    torch.manual_seed(0)
    ref = TORCH_LAYERS[kind](3, 4, num_layers=2, bidirectional=True, batch_first=True)
    ours = RNN.from_torch(ref)
    lengths = torch.tensor([2, 5, 1, 4])  # unsorted, one full length
    x = torch.randn(4, 5, 3)
    _compare_layers(ours, ref, x, lengths=lengths)
    # padded positions are ignored: changing them changes nothing
    x2 = x.clone()
    x2[0, 2:] = 100.0
    out1, out2 = ours(x, lengths=lengths)[0], ours(x2, lengths=lengths)[0]
    torch.testing.assert_close(out1, out2)
    assert torch.all(out1[2, 1:] == 0), "outputs past a sequence's length are zero"


def test_rnn_copy_to_torch_and_to_torch_round_trip():
    torch.manual_seed(0)
    ours = RNN("lstm", 3, 4, num_layers=2, bidirectional=True)
    ref = ours.to_torch()
    assert isinstance(ref, nn.LSTM) and ref.batch_first
    _compare_layers(ours, ref, torch.randn(2, 3, 3))
    other = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    ours.copy_to_torch(other)
    for _, a, b in ours.paired_parameters(other):
        assert torch.equal(a, b)


def test_rnn_dropout_between_layers():
    torch.manual_seed(0)
    ref = nn.GRU(3, 4, num_layers=2, dropout=0.5, batch_first=True)
    ours = RNN.from_torch(ref)
    assert ours.dropout == 0.5
    x = torch.randn(2, 5, 3)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(x)[0], ref(x)[0])  # no dropout in eval mode
    ours.train()
    torch.manual_seed(1)
    a = ours(x)[0]
    torch.manual_seed(2)
    b = ours(x)[0]
    assert not torch.allclose(a, b), "training mode applies dropout between the layers"


def test_relu_rnn_matches_torch():
    torch.manual_seed(0)
    ref = nn.RNN(3, 4, nonlinearity="relu", batch_first=True)
    ours = RNN.from_torch(ref)
    assert ours.nonlinearity == "relu"
    _compare_layers(ours, ref, torch.randn(2, 4, 3))


# ----------------------------------------------------------------------------------------------------
# Bad inputs
# ----------------------------------------------------------------------------------------------------


def test_cell_bad_inputs():
    cell = LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"\[B, input_size\] = \[B, 3\]"):
        cell(torch.randn(2, 5, 3))  # a whole sequence instead of one step
    with pytest.raises(ValueError, match=r"\[B, input_size\]"):
        cell(torch.randn(2, 7))  # wrong feature size
    with pytest.raises(ValueError, match=r"h must have shape \[B, hidden_size\] = \[2, 4\]"):
        cell(torch.randn(2, 3), (torch.randn(2, 5), torch.randn(2, 4)))
    with pytest.raises(ValueError, match="pair"):
        cell(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        GRUCell(3, 0)
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4, nonlinearity="sigmoid")


def test_cell_copy_mismatches():
    with pytest.raises(TypeError, match="nn.LSTMCell or nn.LSTM"):
        LSTMCell(3, 4).copy_from_torch(nn.GRUCell(3, 4))
    with pytest.raises(ValueError, match="size mismatch"):
        LSTMCell(3, 4).copy_from_torch(nn.LSTMCell(3, 5))
    with pytest.raises(ValueError, match="no cell"):
        GRUCell(3, 4).copy_from_torch(nn.GRU(3, 4), layer=0, reverse=True)
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4).copy_from_torch(nn.RNNCell(3, 4, nonlinearity="relu"))


def test_rnn_bad_inputs():
    with pytest.raises(ValueError, match="unknown cell 'transformer'"):
        RNN("transformer", 3, 4)
    with pytest.raises(ValueError, match="dropout"):
        RNN("gru", 3, 4, dropout=1.5)
    rnn = RNN("lstm", 3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"\[B, T, input_size\] with input_size=3, got \[5, 3\]"):
        rnn(torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"\[B, T, input_size\]"):
        rnn(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"\[T, B, input_size\]"):
        RNN("gru", 3, 4, batch_first=False)(torch.randn(2, 5))
    with pytest.raises(
        ValueError, match=r"h_0 must have shape \[num_layers\*num_directions, B, H\] = \[2, 2, 4\]"
    ):
        rnn(torch.randn(2, 5, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match="pair"):
        rnn(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))
    x = torch.randn(2, 5, 3)
    with pytest.raises(ValueError, match=r"lengths must be in \[1, T\] = \[1, 5\]"):
        rnn(x, lengths=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, T\]"):
        rnn(x, lengths=torch.tensor([6, 3]))
    with pytest.raises(ValueError, match=r"lengths must have shape \[B\] = \[2\]"):
        rnn(x, lengths=torch.tensor([3, 3, 3]))
    with pytest.raises(ValueError, match="integers"):
        rnn(x, lengths=torch.tensor([3.0, 3.0]))


def test_rnn_copy_mismatches():
    with pytest.raises(TypeError, match="pairs with nn.GRU"):
        RNN("gru", 3, 4).copy_from_torch(nn.LSTM(3, 4))
    with pytest.raises(ValueError, match="shape mismatch"):
        RNN("gru", 3, 4, num_layers=2).copy_from_torch(nn.GRU(3, 4))
    with pytest.raises(ValueError, match="shape mismatch"):
        RNN("gru", 3, 4, bidirectional=True).copy_to_torch(nn.GRU(3, 4))
    with pytest.raises(TypeError, match="expected nn.RNN, nn.LSTM or nn.GRU"):
        RNN.from_torch(nn.Linear(3, 4))


# ----------------------------------------------------------------------------------------------------
# SequenceClassifier
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_padding_does_not_change_logits(cell, bidirectional):
    torch.manual_seed(0)
    model = SequenceClassifier(20, 5, emb_dim=8, hidden_size=6, cell=cell, num_layers=2,
                               bidirectional=bidirectional, dropout=0.3).eval()  # fmt: skip
    seqs = [torch.tensor([3, 4, 5]), torch.tensor([7, 8, 9, 10, 11, 12]), torch.tensor([2])]
    lengths = torch.tensor([len(s) for s in seqs])
    x = torch.zeros(3, 6, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
    logits = model(x, lengths)
    assert logits.shape == (3, 5)
    for i, s in enumerate(seqs):
        alone = model(s.unsqueeze(0), torch.tensor([len(s)]))
        torch.testing.assert_close(logits[i : i + 1], alone)
    x2 = x.clone()
    x2[0, 3:] = 13  # different "padding" tokens past the length
    torch.testing.assert_close(model(x2, lengths), logits)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_classifier_feature_is_final_state_of_the_unpadded_sequence(cell):
    torch.manual_seed(0)
    model = SequenceClassifier(10, 3, emb_dim=4, hidden_size=5, cell=cell, bidirectional=True).eval()
    s = torch.tensor([[1, 2, 3, 4]])
    feat = model.encode(torch.cat([s, torch.zeros(1, 3, dtype=torch.long)], dim=1), torch.tensor([4]))
    out, _ = model.rnn(model.embedding(s))  # [1, 4, 2H] on the unpadded sequence
    torch.testing.assert_close(feat[:, :5], out[:, -1, :5])  # forward direction at the last step
    torch.testing.assert_close(feat[:, 5:], out[:, 0, 5:])  # backward direction at the first step
    logits = model(s, torch.tensor([4]))
    torch.testing.assert_close(logits, model.classifier(feat))


def test_classifier_trains_and_gradients_flow():
    torch.manual_seed(0)
    model = SequenceClassifier(6, 2, emb_dim=8, hidden_size=16, cell="gru")
    # label = whether token 5 occurs in the sequence
    x = torch.randint(1, 5, (64, 7))
    y = torch.randint(0, 2, (64,))
    pos = torch.randint(0, 7, (64,))
    x[y == 1, pos[y == 1]] = 5
    lengths = torch.full((64,), 7)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x, lengths), y)
        loss.backward()
        opt.step()
    assert all(p.grad is not None for p in model.parameters())
    assert (model(x, lengths).argmax(1) == y).float().mean() > 0.95


def test_classifier_bad_inputs():
    with pytest.raises(ValueError, match="unknown cell 'cnn'"):
        SequenceClassifier(10, 3, cell="cnn")
    with pytest.raises(ValueError, match="pad_idx"):
        SequenceClassifier(10, 3, pad_idx=10)
    model = SequenceClassifier(10, 3, emb_dim=4, hidden_size=5)
    x, lengths = torch.randint(1, 10, (2, 4)), torch.tensor([4, 2])
    with pytest.raises(ValueError, match=r"token ids x of shape \[B, T\], got \[2, 4, 1\]"):
        model(x.unsqueeze(-1), lengths)
    with pytest.raises(ValueError, match="integer token ids"):
        model(x.float(), lengths)
    with pytest.raises(ValueError, match=r"\[0, vocab_size\) = \[0, 10\)"):
        model(x + 10, lengths)
    with pytest.raises(ValueError, match=r"lengths of shape \[B\] = \[2\]"):
        model(x, torch.tensor([4]))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, T\] = \[1, 4\]"):
        model(x, torch.tensor([5, 2]))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, T\]"):
        model(x, torch.tensor([0, 2]))


# ----------------------------------------------------------------------------------------------------
# Chrono initialisation
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_chrono_init_sets_the_memory_gate_biases(kind):
    torch.manual_seed(0)
    module = TORCH_LAYERS[kind](3, 16, num_layers=2, bidirectional=True)
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    chrono_init_(module, t_max=50, generator=torch.Generator().manual_seed(0))
    H = 16
    keep = slice(H, 2 * H)  # LSTM: forget gate (i, f, g, o); GRU: update gate (r, z, n)
    for name, p in module.named_parameters():
        if name.startswith("weight"):
            assert torch.equal(p, before[name]), "weights are untouched"
            continue
        if name.startswith("bias_hh"):
            assert torch.all(p[keep] == 0)
            if kind == "lstm":
                assert torch.all(p[:H] == 0)
            continue
        b = p[keep]
        assert torch.all(b >= 0) and torch.all(b <= math.log(49)), "log(u) with u in [1, t_max - 1]"
        assert b.std() > 0.3, "units get different time scales"
        if kind == "lstm":
            torch.testing.assert_close(p[:H], -b)  # input gate = -forget bias
            assert torch.equal(p[2 * H :], before[name][2 * H :])
        else:
            assert torch.equal(p[:H], before[name][:H]) and torch.equal(p[2 * H :], before[name][2 * H :])
    # the point of it: the initial forget / keep gates hold memories for many steps
    keep_gate = torch.sigmoid(module.bias_ih_l0[keep])
    assert (1 / (1 - keep_gate)).max() > 10


def test_chrono_init_bad_inputs():
    with pytest.raises(TypeError, match="nn.LSTM or nn.GRU"):
        chrono_init_(nn.RNN(3, 4), t_max=10)
    with pytest.raises(ValueError, match="t_max"):
        chrono_init_(nn.LSTM(3, 4), t_max=2)
    with pytest.raises(ValueError, match="bias=True"):
        chrono_init_(nn.GRU(3, 4, bias=False), t_max=10)


# ----------------------------------------------------------------------------------------------------
# Sampling and the conditional character language model
# ----------------------------------------------------------------------------------------------------


def test_sample_next_greedy_top_k_and_distribution():
    logits = torch.tensor([[0.0, 2.0, 1.0, -1.0], [3.0, 0.0, 0.0, 0.0]])
    assert sample_next(logits, temperature=0).tolist() == [1, 0]
    g = torch.Generator().manual_seed(0)
    assert all(sample_next(logits, top_k=1, generator=g).tolist() == [1, 0] for _ in range(20))
    rows = logits[:1].expand(20000, 4)
    top2 = sample_next(rows, top_k=2, generator=g)
    assert set(top2.tolist()) == {1, 2}
    freq = torch.bincount(top2, minlength=4).float() / len(top2)
    expected = torch.softmax(torch.tensor([2.0, 1.0]), 0)
    assert torch.allclose(freq[1:3], expected, atol=0.02)
    full = torch.bincount(sample_next(rows, generator=g), minlength=4).float() / 20000
    assert torch.allclose(full, torch.softmax(logits[0], 0), atol=0.02)
    cold = torch.bincount(sample_next(rows, temperature=0.25, generator=g), minlength=4).float() / 20000
    hot = torch.bincount(sample_next(rows, temperature=4.0, generator=g), minlength=4).float() / 20000
    assert cold[1] > full[1] > hot[1], "lower temperature concentrates mass on the best token"


def test_sample_next_bad_inputs():
    with pytest.raises(ValueError, match=r"\[B, V\]"):
        sample_next(torch.zeros(4))
    with pytest.raises(ValueError, match="temperature"):
        sample_next(torch.zeros(1, 4), temperature=-1.0)
    with pytest.raises(ValueError, match=r"top_k must be None or an int in \[1, V\] = \[1, 4\]"):
        sample_next(torch.zeros(1, 4), top_k=0)
    with pytest.raises(ValueError, match="top_k"):
        sample_next(torch.zeros(1, 4), top_k=5)


def test_char_lm_is_causal_and_conditioned():
    torch.manual_seed(0)
    lm = ConditionalCharLM(vocab_size=9, num_classes=3, emb_dim=4, class_dim=3, hidden_size=8).eval()
    x = torch.randint(1, 9, (2, 6))
    cls = torch.tensor([0, 2])
    logits = lm(x, cls)
    assert logits.shape == (2, 6, 9)
    x2 = x.clone()
    x2[:, 4] = (x2[:, 4] % 8) + 1  # change step 4: steps 0..3 must not move
    torch.testing.assert_close(lm(x2, cls)[:, :4], logits[:, :4])
    assert not torch.allclose(lm(x2, cls)[:, 4:], logits[:, 4:])
    assert not torch.allclose(lm(x, torch.tensor([1, 1])), logits), "the class changes the predictions"
    # step-by-step with the returned state equals the full pass
    state, steps = None, []
    for t in range(6):
        out, state = lm(x[:, t : t + 1], cls, state, return_state=True)
        steps.append(out)
    torch.testing.assert_close(torch.cat(steps, dim=1), logits)


def test_char_lm_learns_and_generates_per_class():
    """Tiny memorisation task: class 0 -> 'ab', class 1 -> 'ba' (ids: pad 0, bos 1, eos 2, a 3, b 4, unk 5)."""
    torch.manual_seed(0)
    lm = ConditionalCharLM(vocab_size=6, num_classes=2, emb_dim=8, class_dim=4, hidden_size=16)
    x = torch.tensor([[1, 3, 4], [1, 4, 3]])
    y = torch.tensor([[3, 4, 2], [4, 3, 2]])
    cls = torch.tensor([0, 1])
    opt = torch.optim.Adam(lm.parameters(), lr=0.05)
    for _ in range(80):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(lm(x, cls).reshape(-1, 6), y.reshape(-1), ignore_index=0)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    lm.train()
    out = lm.generate(torch.tensor([0, 1, 0]), bos_idx=1, eos_idx=2, temperature=0)
    assert out == [[3, 4], [4, 3], [3, 4]]
    assert lm.training, "generate restores the training mode"
    g = torch.Generator().manual_seed(0)
    samples = lm.generate(
        torch.zeros(200, dtype=torch.long), 1, 2, max_len=5, temperature=3.0, generator=g, banned=(5,)
    )
    flat = {t for s in samples for t in s}
    assert flat <= {3, 4}, "never samples <pad>, <bos>, <eos> (inside a name) or banned ids"
    assert all(len(s) <= 5 for s in samples)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert lm.generate(torch.tensor([0, 1]), 1, 2, temperature=2.0, generator=g1) == lm.generate(
        torch.tensor([0, 1]), 1, 2, temperature=2.0, generator=g2
    )
    nll = nn.functional.cross_entropy(lm(x, cls).reshape(-1, 6), y.reshape(-1), reduction="sum")
    assert math.isfinite(nll.item())


def test_char_lm_bad_inputs():
    lm = ConditionalCharLM(vocab_size=6, num_classes=2)
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        lm(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"cls must be integer class ids of shape \[B\] = \[2\]"):
        lm(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 2\)"):
        lm(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 6\)"):
        lm(torch.full((2, 3), 6), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="max_len"):
        lm.generate(torch.tensor([0]), 1, 2, max_len=0)


# ----------------------------------------------------------------------------------------------------
# Empty sequences, mismatched dtypes, broken logits
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_rnn_rejects_empty_sequences_like_torch(kind, batch_first):
    rnn = RNN(kind, 3, 4, batch_first=batch_first)
    x = torch.zeros(2, 0, 3) if batch_first else torch.zeros(0, 2, 3)
    with pytest.raises(RuntimeError):  # PyTorch refuses T = 0 too
        TORCH_LAYERS[kind](3, 4, batch_first=batch_first)(x)
    with pytest.raises(ValueError, match="T = 0 time steps"):
        rnn(x)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_rnn_empty_batch_matches_torch(kind):
    out, _ = RNN(kind, 3, 4)(torch.zeros(0, 5, 3))
    ref, _ = TORCH_LAYERS[kind](3, 4, batch_first=True)(torch.zeros(0, 5, 3))
    assert out.shape == ref.shape == (0, 5, 4)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_rnn_and_cells_reject_mismatched_dtypes(kind):
    rnn = RNN(kind, 3, 4)
    x = torch.randn(2, 5, 3)
    with pytest.raises(
        ValueError, match=r"x has dtype torch.float64 but the weights have dtype torch.float32"
    ):
        rnn(x.double())
    with pytest.raises(ValueError, match=r"float features.*embedded first"):
        rnn(torch.zeros(2, 5, 3, dtype=torch.long))
    h0 = torch.zeros(1, 2, 4)
    hx_bad = (h0.double(), h0) if kind == "lstm" else h0.double()
    with pytest.raises(
        ValueError, match=r"h_0 has dtype torch.float64 but the input has dtype torch.float32"
    ):
        rnn(x, hx_bad)
    if kind == "lstm":
        with pytest.raises(ValueError, match=r"c_0 has dtype torch.float16"):
            rnn(x, (h0, h0.half()))
        with pytest.raises(ValueError, match=r"c_0 must be a tensor"):
            rnn(x, (h0, [0.0]))
    cell = OUR_CELLS[kind](3, 4)
    with pytest.raises(ValueError, match=rf"{type(cell).__name__}: x has dtype torch.float64"):
        cell(torch.randn(2, 3, dtype=torch.float64))
    h = torch.zeros(2, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"h has dtype torch.float64 but the input has dtype torch.float32"):
        cell(torch.randn(2, 3), (h, h.float()) if kind == "lstm" else h)
    if kind == "lstm":
        with pytest.raises(ValueError, match=r"c has dtype torch.float64"):
            cell(torch.randn(2, 3), (h.float(), h))
    # a model converted to float64 takes float64 inputs, like nn.LSTM
    assert rnn.double()(x.double())[0].dtype == torch.float64


def test_rnn_still_runs_under_autocast():
    rnn = RNN("lstm", 3, 4, num_layers=2, bidirectional=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, (h_n, c_n) = rnn(torch.randn(2, 5, 3))
    assert out.shape == (2, 5, 8) and h_n.shape == (4, 2, 4)


def test_models_reject_empty_sequences_and_bad_states():
    clf = SequenceClassifier(10, 3, emb_dim=4, hidden_size=5)
    with pytest.raises(ValueError, match="T = 0 time steps"):
        clf(torch.zeros(2, 0, dtype=torch.long), torch.tensor([1, 1]))
    assert clf(torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, dtype=torch.long)).shape == (0, 3)
    lm = ConditionalCharLM(vocab_size=6, num_classes=2, hidden_size=8)
    x, cls = torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="T = 0 time steps"):
        lm(torch.zeros(2, 0, dtype=torch.long), cls)
    h = torch.zeros(1, 2, 8)
    with pytest.raises(ValueError, match=r"state: h has dtype torch.float64"):
        lm(x, cls, (h.double(), h))
    with pytest.raises(ValueError, match=r"state c must have shape \[num_layers, B, H\] = \[1, 2, 8\]"):
        lm(x, cls, (h, torch.zeros(1, 3, 8)))
    with pytest.raises(ValueError, match="pair"):
        lm(x, cls, h)
    logits, (h_n, c_n) = lm(x, cls, (h, h), return_state=True)
    assert logits.shape == (2, 3, 6) and h_n.shape == (1, 2, 8)


@pytest.mark.parametrize("kwargs", [{}, {"temperature": 0}, {"top_k": 2}, {"temperature": 0.5, "top_k": 3}])
def test_sample_next_rejects_nan_logits(kwargs):
    logits = torch.tensor([[0.0, 1.0, 2.0], [float("nan"), 1.0, 0.0]])
    with pytest.raises(ValueError, match=r"logits contain NaN \(in row\(s\) \[1\]\)"):
        sample_next(logits, **kwargs)


@pytest.mark.parametrize("kwargs", [{}, {"temperature": 0}, {"top_k": 1}])
def test_sample_next_rejects_rows_with_every_token_banned(kwargs):
    logits = torch.tensor([[0.0, 1.0, 2.0], [float("-inf")] * 3])
    with pytest.raises(ValueError, match=r"every token is banned.*row\(s\) \[1\]"):
        sample_next(logits, **kwargs)


def test_sample_next_extreme_but_valid_logits_and_temperatures():
    g = torch.Generator().manual_seed(0)
    inf = float("inf")
    rows = torch.tensor([[1.0, inf, 3.0, inf]]).expand(2000, 4)
    counts = torch.bincount(sample_next(rows, generator=g), minlength=4)
    assert counts[0] == counts[2] == 0 and counts[1] > 800 and counts[3] > 800
    assert sample_next(rows[:1], temperature=0).item() in (1, 3)
    logits = torch.tensor([[1.0, 3.0, 2.0, -inf]])
    assert sample_next(logits, temperature=1e-300, generator=g).item() == 1  # as good as greedy
    assert sample_next(logits.double(), temperature=1e-320, generator=g).item() == 1
    assert sample_next(logits.bfloat16(), top_k=1, generator=g).item() == 1
    assert sample_next(torch.tensor([[0, 5, 1]]), temperature=0).item() == 1  # integer logits
    assert sample_next(torch.zeros(0, 4)).shape == (0,)
    big = torch.tensor([[1e38, -1e38, 3e38]])  # no overflow to inf - inf
    assert sample_next(big, generator=g).item() == 2


@pytest.mark.parametrize("temperature", [float("inf"), float("nan"), -0.5, "1", None, True])
def test_sample_next_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        sample_next(torch.zeros(1, 4), temperature=temperature)


def test_sample_next_rejects_empty_vocabulary():
    with pytest.raises(ValueError, match=r"no tokens \(V = 0\)"):
        sample_next(torch.zeros(2, 0))


def test_generate_checks_ids_and_restores_train_mode():
    lm = ConditionalCharLM(vocab_size=6, num_classes=2, hidden_size=8).train()
    with pytest.raises(ValueError, match="every token is banned"):
        lm.generate(torch.tensor([0, 1]), 1, 2, banned=(2, 3, 4, 5))
    assert lm.training, "a failed generate leaves the train/eval mode as it was"
    with pytest.raises(
        ValueError, match=r"eos_idx must be a token id in \[0, vocab_size\) = \[0, 6\), got 9"
    ):
        lm.generate(torch.tensor([0]), 1, 9)
    with pytest.raises(ValueError, match=r"bos_idx must be a token id"):
        lm.generate(torch.tensor([0]), -1, 2)
    with pytest.raises(ValueError, match=r"banned must hold token ids in \[0, vocab_size\)"):
        lm.generate(torch.tensor([0]), 1, 2, banned=(6,))
    g = torch.Generator().manual_seed(0)
    seqs = lm.generate(torch.tensor([0, 1]), 1, 2, generator=g, banned=(3, 4))
    assert all(set(s) <= {5} for s in seqs)
