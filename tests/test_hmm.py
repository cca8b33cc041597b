"""Tests for course_utils.hmm: brute force on tiny models, hmmlearn as the peer library, bad inputs."""

import itertools
import re
import warnings

import numpy as np
import pytest

import course_utils.hmm as hmm_module
from course_utils.hmm import HMM, backward_log, forward_log, logsumexp, viterbi_log


def hmmlearn_hmm():
    """hmmlearn's hmm module (a test dependency); only the comparisons with it are skipped without it."""
    return pytest.importorskip("hmmlearn.hmm")


def brute_force(model: HMM, obs: np.ndarray) -> dict[tuple[int, ...], float]:
    """P(path, obs) for every state path, by enumerating all N^T of them."""
    out = {}
    for path in itertools.product(range(model.n_states), repeat=len(obs)):
        p = model.pi[path[0]] * model.B[path[0], obs[0]]
        for t in range(1, len(obs)):
            p *= model.A[path[t - 1], path[t]] * model.B[path[t], obs[t]]
        out[path] = p
    return out


def tiny_cases():
    """(model, obs) pairs: random models with 2-3 states, 2-4 symbols, sequences of length 1-5."""
    cases = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n, m = 2 + seed % 2, 2 + seed % 3
        model = HMM.random(n, m, seed=seed)
        for T in (1, 2, 5):
            cases.append((model, rng.integers(0, m, size=T)))
    return cases


CASES = tiny_cases()


@pytest.fixture
def weather() -> HMM:
    # the lecture's example: hidden weather, observed clouds
    return HMM(
        pi=[0.6, 0.4],
        A=[[0.7, 0.3], [0.4, 0.6]],
        B=[[0.6, 0.3, 0.1], [0.1, 0.4, 0.5]],
        states=["sunny", "rainy"],
        symbols=["clear", "cloudy", "overcast"],
    )


def to_hmmlearn(model: HMM):
    ref = hmmlearn_hmm().CategoricalHMM(
        n_components=model.n_states, n_features=model.n_symbols, init_params=""
    )
    ref.startprob_, ref.transmat_, ref.emissionprob_ = model.pi.copy(), model.A.copy(), model.B.copy()
    return ref


# ---------------------------------------------------------------- problem 1: evaluation


@pytest.mark.parametrize("model,obs", CASES)
def test_forward_equals_sum_over_all_paths(model, obs):
    expected = np.log(sum(brute_force(model, obs).values()))
    assert model.log_likelihood(obs) == pytest.approx(expected, rel=1e-10)
    # every forward entry, too: alpha[t, j] = sum over paths of the prefix ending in j
    alpha = np.exp(model.forward(obs))
    prefix = brute_force(model, obs[:-1]) if len(obs) > 1 else None
    if prefix is not None:
        for j in range(model.n_states):
            want = sum(p * model.A[path[-1], j] for path, p in prefix.items()) * model.B[j, obs[-1]]
            assert alpha[-1, j] == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("model,obs", CASES)
def test_backward_agrees_with_forward(model, obs):
    log_alpha, log_beta = model.forward(obs), model.backward(obs)
    ll = model.log_likelihood(obs)
    # sum_i alpha_t(i) beta_t(i) = P(obs) at every t
    np.testing.assert_allclose(logsumexp(log_alpha + log_beta, axis=1), ll, rtol=1e-10)
    start = logsumexp(model.log_pi + model.log_B[:, obs[0]] + log_beta[0])
    assert start == pytest.approx(ll, rel=1e-10)


def test_long_sequence_does_not_underflow(weather):
    _, obs = weather.sample(5000, rng=0)
    naive = weather.pi * weather.B[:, obs[0]]
    for o in obs[1:]:
        naive = (naive @ weather.A) * weather.B[:, o]
    assert naive.sum() == 0.0  # the probability-space version underflows ...
    ll = weather.log_likelihood(obs)
    assert np.isfinite(ll) and -6000 < ll < -4000  # ... the log-space one does not


def test_logsumexp():
    x = np.array([[0.0, np.log(3.0)], [-np.inf, -np.inf], [1000.0, 1000.0]])
    np.testing.assert_allclose(logsumexp(x, axis=1), [np.log(4.0), -np.inf, 1000.0 + np.log(2.0)])
    assert float(logsumexp(np.array([-1.0, -2.0]))) == pytest.approx(np.log(np.exp(-1) + np.exp(-2)))


# ---------------------------------------------------------------- problem 2: decoding


@pytest.mark.parametrize("model,obs", CASES)
def test_viterbi_equals_brute_force_argmax(model, obs):
    joint = brute_force(model, obs)
    best = max(joint, key=joint.get)
    path, logp = model.viterbi(obs)
    assert tuple(path) == best
    assert logp == pytest.approx(np.log(joint[best]), rel=1e-10)


@pytest.mark.parametrize("model,obs", CASES)
def test_posteriors_sum_to_one_and_match_brute_force(model, obs):
    gamma = model.posteriors(obs)
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-12)
    joint = brute_force(model, obs)
    total = sum(joint.values())
    for t in range(len(obs)):
        for i in range(model.n_states):
            want = sum(p for path, p in joint.items() if path[t] == i) / total
            assert gamma[t, i] == pytest.approx(want, abs=1e-12)


def test_weather_viterbi_path(weather):
    obs = weather.encode(["clear", "cloudy", "overcast", "overcast", "clear"])
    path, logp = weather.viterbi(obs)
    assert [weather.states[i] for i in path] == ["sunny", "rainy", "rainy", "rainy", "sunny"]
    # by hand: π(s) b_s(clear) · a_sr b_r(cloudy) · a_rr b_r(overcast) · a_rr b_r(overcast) · a_rs b_s(clear)
    assert np.exp(logp) == pytest.approx(0.6 * 0.6 * 0.3 * 0.4 * 0.6 * 0.5 * 0.6 * 0.5 * 0.4 * 0.6)


def test_functions_on_log_emission_matrices(weather):
    obs = np.array([0, 2, 1])
    log_emit = weather.log_B[:, obs].T
    np.testing.assert_allclose(forward_log(weather.log_pi, weather.log_A, log_emit), weather.forward(obs))
    np.testing.assert_allclose(backward_log(weather.log_A, log_emit), weather.backward(obs))
    path, _ = viterbi_log(weather.log_pi, weather.log_A, log_emit)
    np.testing.assert_array_equal(path, weather.viterbi(obs)[0])
    with pytest.raises(ValueError, match="shapes do not match"):
        forward_log(weather.log_pi, weather.log_A, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"log_emit must have shape \[T, N\]"):
        viterbi_log(weather.log_pi, weather.log_A, np.zeros((2, 3, 2)))


def test_batched_forward_backward_equal_one_at_a_time(weather):
    obs = np.array([weather.sample(6, rng=s)[1] for s in range(4)])  # [S, T]
    log_emit = weather.log_B.T[obs]  # [S, T, N]
    batch_alpha = forward_log(weather.log_pi, weather.log_A, log_emit)
    batch_beta = backward_log(weather.log_A, log_emit)
    for s in range(4):
        np.testing.assert_allclose(batch_alpha[s], weather.forward(obs[s]))
        np.testing.assert_allclose(batch_beta[s], weather.backward(obs[s]))


# ---------------------------------------------------------------- peer library: hmmlearn


@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_hmmlearn(seed):
    model = HMM.random(4, 6, seed=seed)
    ref = to_hmmlearn(model)
    rng = np.random.default_rng(100 + seed)
    for T in (1, 7, 60):
        obs = rng.integers(0, 6, size=T)
        X = obs[:, None]
        assert model.log_likelihood(obs) == pytest.approx(ref.score(X), rel=1e-9)
        ref_logp, ref_path = ref.decode(X, algorithm="viterbi")
        path, logp = model.viterbi(obs)
        np.testing.assert_array_equal(path, ref_path)
        assert logp == pytest.approx(ref_logp, rel=1e-9)
        np.testing.assert_allclose(model.posteriors(obs), ref.predict_proba(X), atol=1e-9)


def test_baum_welch_matches_hmmlearn_updates():
    start = HMM.random(3, 4, seed=7)
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 4, size=T) for T in (12, 30, 7)]
    ours, history = start.baum_welch(seqs, n_iter=5, tol=-np.inf)
    ref = hmmlearn_hmm().CategoricalHMM(
        3, n_features=4, n_iter=5, tol=-np.inf, init_params="", random_state=0
    )
    ref.startprob_, ref.transmat_, ref.emissionprob_ = start.pi.copy(), start.A.copy(), start.B.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(np.concatenate(seqs)[:, None], lengths=[len(s) for s in seqs])
    np.testing.assert_allclose(ours.pi, ref.startprob_, atol=1e-8)
    np.testing.assert_allclose(ours.A, ref.transmat_, atol=1e-8)
    np.testing.assert_allclose(ours.B, ref.emissionprob_, atol=1e-8)
    # hmmlearn records the log-likelihood before each of its 5 updates
    np.testing.assert_allclose(history[:5], ref.monitor_.history, rtol=1e-9)


# ---------------------------------------------------------------- problem 3: learning


def test_baum_welch_log_likelihood_never_decreases(weather):
    seqs = [weather.sample(40, rng=s)[1] for s in range(4)]
    for seed in range(3):
        model, history = HMM.random(2, 3, seed=seed).baum_welch(seqs, n_iter=25, tol=-np.inf)
        assert len(history) == 26
        diffs = np.diff(history)
        assert (diffs >= -1e-9 * abs(history[0])).all()
        assert history[-1] > history[0] + 1.0  # and it learns something
        assert history[-1] == pytest.approx(sum(model.log_likelihood(s) for s in seqs))


def test_baum_welch_update_subset_keeps_the_rest(weather):
    seqs = [weather.sample(30, rng=s)[1] for s in range(3)]
    start = HMM(weather.pi, [[0.5, 0.5], [0.5, 0.5]], weather.B)
    model, history = start.baum_welch(seqs, n_iter=10, update=("A",))
    np.testing.assert_array_equal(model.B, weather.B)
    np.testing.assert_array_equal(model.pi, weather.pi)
    assert not np.allclose(model.A, start.A)
    assert history[-1] >= history[0]


def test_baum_welch_stops_at_tolerance(weather):
    seqs = [weather.sample(30, rng=1)[1]]
    _, history = HMM.random(2, 3, seed=0).baum_welch(seqs, n_iter=500, tol=1e-3)
    assert len(history) < 501
    assert history[-1] - history[-2] < 1e-3


def brute_force_one_step(model: HMM, seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Baum-Welch update by enumerating every state path: expected counts weighted by P(path | obs)."""
    N, M = model.n_states, model.n_symbols
    pi_c, A_c, B_c = np.zeros(N), np.zeros((N, N)), np.zeros((N, M))
    for obs in seqs:
        joint = brute_force(model, obs)
        total = sum(joint.values())
        for path, p in joint.items():
            w = p / total
            pi_c[path[0]] += w
            for t in range(len(obs)):
                B_c[path[t], obs[t]] += w
                if t:
                    A_c[path[t - 1], path[t]] += w
    return tuple(
        normalise_or_keep(c, old) for c, old in ((pi_c[None], model.pi[None]), (A_c, model.A), (B_c, model.B))
    )


def normalise_or_keep(counts: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Rows of counts divided by their sums; a row without counts keeps ``old`` (as Baum-Welch does)."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), old)


def log_space_one_step(model: HMM, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Baum-Welch update for one sequence, every expected count summed in log space (logsumexp)."""
    la, lb = model.forward(obs), model.backward(obs)
    ll = logsumexp(la[-1])
    log_gamma = la + lb - ll  # [T, N]
    # log xi[t, i, j] = log alpha_t(i) + log a_ij + log b_j(o_{t+1}) + log beta_{t+1}(j) - log P(O)
    log_xi = la[:-1, :, None] + model.log_A + (model.log_B[:, obs[1:]].T + lb[1:])[:, None, :] - ll
    A_c = np.exp(logsumexp(log_xi, axis=0))
    B_c = np.zeros((model.n_states, model.n_symbols))
    for k in np.unique(obs):
        B_c[:, k] = np.exp(logsumexp(log_gamma[obs == k], axis=0))
    pi_c = np.exp(log_gamma[0])
    return tuple(
        normalise_or_keep(c, old) for c, old in ((pi_c[None], model.pi[None]), (A_c, model.A), (B_c, model.B))
    )


def two_world_model(eps: float = 0.1) -> HMM:
    """Two separate 2-state worlds (zero transitions between them); world Y mirrors world X (a <-> b).

    pi is the stationary distribution of each (reversible) world, so P_X(o) = P_X(reversed o): a sequence
    ``s + swap(reversed(s))`` is then exactly as likely under X as under Y, and both keep posterior mass.
    """
    block = np.array([[0.7, 0.3], [0.4, 0.6]])
    stationary = np.array([4.0, 3.0]) / 7.0
    A = np.zeros((4, 4))
    A[:2, :2] = A[2:, 2:] = block
    x = np.array([[1 - 2 * eps, eps, eps], [0.6, 0.2, 0.2]])  # symbols a, b, c
    B = np.concatenate([x, x[:, [1, 0, 2]]])
    return HMM(np.concatenate([stationary, stationary]) / 2, A, B)


def two_world_sequence(n: int, seed: int = 0) -> np.ndarray:
    s = np.random.default_rng(seed).choice(3, size=n, p=[0.7, 0.15, 0.15])
    return np.concatenate([s, np.array([1, 0, 2])[s[::-1]]])


def test_baum_welch_long_sequence_with_zero_transitions():
    # 3,000 steps: half-way, the likely forward states (world X) and backward states (world Y) are
    # linked only by zero transitions; exp(c + d - log P) would be ~e^3000 (overflow, inf * 0 = NaN)
    model = two_world_model()
    obs = two_world_sequence(1500)
    ref_pi, ref_A, ref_B = log_space_one_step(model, obs)
    assert ref_A[0, 0] < 0.65 and ref_A[2, 2] < 0.65  # both worlds really move away from 0.7
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow / invalid-value warnings either
        one, _ = model.baum_welch([obs], n_iter=1, tol=-np.inf)
        learned, history = model.baum_welch([obs], n_iter=8, tol=-np.inf)
    np.testing.assert_allclose(one.A, ref_A, atol=1e-9)
    np.testing.assert_allclose(one.B, ref_B, atol=1e-9)
    np.testing.assert_allclose(one.pi, ref_pi[0], atol=1e-9)
    for m in (one, learned):
        for arr in (m.pi[None], m.A, m.B):
            assert np.all(np.isfinite(arr))
            np.testing.assert_allclose(arr.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_array_equal(m.A[:2, 2:], 0.0)  # EM keeps impossible transitions impossible
        np.testing.assert_array_equal(m.A[2:, :2], 0.0)
    assert np.all(np.isfinite(history)) and len(history) == 9
    assert (np.diff(history) >= -1e-9 * abs(history[0])).all()
    assert history[-1] > history[0] + 100
    assert history[-1] == pytest.approx(learned.log_likelihood(obs), rel=1e-12)


def test_baum_welch_long_and_short_sequences_match_log_space():
    # the same model on a short sequence (no overflow risk) and on the long one: both match log space
    model = two_world_model()
    for n in (5, 50, 1500):
        obs = two_world_sequence(n, seed=n)
        _, ref_A, ref_B = log_space_one_step(model, obs)
        one, _ = model.baum_welch([obs], n_iter=1)
        np.testing.assert_allclose(one.A, ref_A, atol=1e-9)
        np.testing.assert_allclose(one.B, ref_B, atol=1e-9)


def test_baum_welch_long_sequence_matches_hmmlearn():
    model = two_world_model()
    obs = two_world_sequence(1500, seed=3)
    ours, history = model.baum_welch([obs], n_iter=3, tol=-np.inf)
    ref = hmmlearn_hmm().CategoricalHMM(4, n_features=3, n_iter=3, tol=-np.inf, init_params="")
    ref.startprob_, ref.transmat_, ref.emissionprob_ = model.pi.copy(), model.A.copy(), model.B.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(obs[:, None])
    np.testing.assert_allclose(ours.A, ref.transmat_, atol=1e-8)
    np.testing.assert_allclose(ours.B, ref.emissionprob_, atol=1e-8)
    np.testing.assert_allclose(history[:3], ref.monitor_.history, rtol=1e-9)


@pytest.mark.parametrize("scale", [0.0, np.inf])  # 0: scaled fast path only; inf: log-space path only
def test_both_transition_count_paths_equal_brute_force(monkeypatch, scale):
    monkeypatch.setattr(hmm_module, "_SAFE_SCALE", scale)
    sparse = HMM([0.5, 0.5, 0.0], [[0.0, 1.0, 0.0], [0.3, 0.0, 0.7], [0.5, 0.5, 0.0]], np.full((3, 2), 0.5))
    cases = [*CASES[::2], (sparse, np.array([0, 1, 1, 0, 1]))]
    for model, obs in cases:
        seqs = [obs, obs[::-1]] if len(obs) > 1 else [obs]
        one, _ = model.baum_welch(seqs, n_iter=1)
        pi, A, B = brute_force_one_step(model, seqs)
        np.testing.assert_allclose(one.pi, pi[0], atol=1e-10)
        if len(obs) > 1:
            np.testing.assert_allclose(one.A, A, atol=1e-10)
        np.testing.assert_allclose(one.B, B, atol=1e-10)


def test_extreme_emissions_use_log_space_and_match_brute_force():
    # emissions of 1e-60 make the per-step scale ~1e-180 after 3 steps: those steps go to the log path
    model = two_world_model(eps=1e-60)
    obs = np.array([0, 0, 0, 1, 1, 1])
    one, _ = model.baum_welch([obs], n_iter=1)
    pi, A, B = brute_force_one_step(model, [obs])
    np.testing.assert_allclose(one.A, A, atol=1e-10)
    np.testing.assert_allclose(one.B, B, atol=1e-10)
    np.testing.assert_allclose(one.pi, pi[0], atol=1e-10)


def test_nan_expected_counts_raise(monkeypatch, weather):
    def broken(self, left, right, ll):
        return np.full((self.n_states, self.n_states), np.nan)

    monkeypatch.setattr(HMM, "_transition_counts", broken)
    with pytest.raises(ValueError, match="expected transition counts contain NaN"):
        weather.baum_welch([[0, 1, 2]])


def test_fit_counts_hand_computed():
    corpus = [
        [("the", "D"), ("dog", "N"), ("runs", "V")],
        [("the", "D"), ("dogs", "N"), ("run", "V")],
        [("dogs", "N"), ("run", "V")],
    ]
    m = HMM.fit_counts(corpus)
    assert m.states == ["D", "N", "V"]
    assert m.symbols == ["dog", "dogs", "run", "runs", "the"]
    np.testing.assert_allclose(m.pi, [2 / 3, 1 / 3, 0])
    # D->N twice; N->V three times; V is never followed by anything -> uniform row
    np.testing.assert_allclose(m.A, [[0, 1, 0], [0, 0, 1], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(m.B[1], [1 / 3, 2 / 3, 0, 0, 0])  # N emits dog once, dogs twice
    np.testing.assert_allclose(m.B[2], [0, 0, 2 / 3, 1 / 3, 0])
    # add-k: A[N] = (0+1, 0+1, 3+1) / (3 + 3), B[D] = (0,0,0,0,2 + .5) / (2 + 5*.5)
    s = HMM.fit_counts(corpus, transition_smoothing=1.0, emission_smoothing=0.5)
    np.testing.assert_allclose(s.A[1], [1 / 6, 1 / 6, 4 / 6])
    np.testing.assert_allclose(s.B[0], [0.5 / 4.5] * 4 + [2.5 / 4.5])
    np.testing.assert_allclose(s.pi, [3 / 6, 2 / 6, 1 / 6])
    # CoNLL-style (word, POS, chunk) items: the extra field is ignored
    m3 = HMM.fit_counts([[(w, t, "O") for w, t in s] for s in corpus])
    np.testing.assert_array_equal(m3.B, m.B)


def test_sample_follows_the_parameters(weather):
    states, obs = weather.sample(20000, rng=np.random.default_rng(3))
    a01 = np.mean(states[1:][states[:-1] == 0] == 1)
    assert a01 == pytest.approx(weather.A[0, 1], abs=0.02)
    emitted = np.bincount(obs[states == 1], minlength=3) / np.sum(states == 1)
    np.testing.assert_allclose(emitted, weather.B[1], atol=0.02)
    s1, o1 = weather.sample(10, rng=5)
    s2, o2 = weather.sample(10, rng=5)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(s1, s2)


def test_repr_and_encode(weather):
    assert repr(weather) == "HMM(n_states=2, n_symbols=3)"
    np.testing.assert_array_equal(weather.encode(["overcast", "clear"]), [2, 0])
    np.testing.assert_array_equal(weather.encode(["fog", "clear"], unk="cloudy"), [1, 0])


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "pi,A,B,match",
    [
        ([0.5, 0.5], [[0.7, 0.3], [0.4, 0.5]], [[1.0], [1.0]], r"row 1 of A sums to 0\.9.*normalised"),
        ([0.5, 0.6], [[1, 0], [0, 1]], [[1.0], [1.0]], r"pi sums to 1\.1"),
        ([0.5, 0.5], [[1, 0], [0, 1]], [[0.5, 0.4], [1.0, 0.0]], r"row 0 of B sums to 0\.9"),
        ([0.5, 0.5], [[1, 0, 0], [0, 1, 0]], [[1.0], [1.0]], r"A must have shape \[N, N\]"),
        ([0.5, 0.5], [[1, 0], [0, 1]], [[1.0], [1.0], [1.0]], r"B must have shape \[N, M\]"),
        ([[0.5, 0.5]], [[1, 0], [0, 1]], [[1.0], [1.0]], r"pi must have shape \[N\]"),
        ([1.5, -0.5], [[1, 0], [0, 1]], [[1.0], [1.0]], r"negative entry"),
        ([np.nan, 1.0], [[1, 0], [0, 1]], [[1.0], [1.0]], r"NaN"),
    ],
)
def test_bad_parameters_are_rejected(pi, A, B, match):
    with pytest.raises(ValueError, match=match):
        HMM(pi, A, B)


def test_bad_observations_are_rejected(weather):
    with pytest.raises(ValueError, match=r"observation 3 at position 1 is out of range.*3 symbols"):
        weather.forward([0, 3, 1])
    with pytest.raises(ValueError, match="out of range"):
        weather.viterbi([-1])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        weather.log_likelihood([])
    with pytest.raises(TypeError, match="encode"):
        weather.posteriors(["clear", "cloudy"])
    with pytest.raises(KeyError, match="'fog' is not in this HMM's alphabet"):
        weather.encode(["clear", "fog"])
    with pytest.raises(ValueError, match="1-D sequence of symbol ids"):
        weather.baum_welch([[[0, 1]]])
    with pytest.raises(ValueError, match="wrap|pass a list of sequences"):
        weather.baum_welch(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="update may only contain"):
        weather.baum_welch([[0, 1]], update=("C",))
    with pytest.raises(ValueError, match="T must be a positive int"):
        weather.sample(0)


def test_impossible_sequence_is_reported():
    m = HMM([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])
    assert m.log_likelihood([0, 1]) == -np.inf
    with pytest.raises(ValueError, match="probability 0"):
        m.posteriors([0, 1])
    with pytest.raises(ValueError, match="probability 0"):
        m.baum_welch([[0, 1]])


def test_bad_names_and_corpora():
    with pytest.raises(ValueError, match="got 3 states names for 2 states"):
        HMM([0.5, 0.5], [[1, 0], [0, 1]], [[1.0], [1.0]], states=["a", "b", "c"])
    with pytest.raises(ValueError, match="unique"):
        HMM([0.5, 0.5], [[1, 0], [0, 1]], [[0.5, 0.5], [0.5, 0.5]], symbols=["x", "x"])
    with pytest.raises(ValueError, match="empty"):
        HMM.fit_counts([])
    with pytest.raises(ValueError, match="'Z' is not in the given states"):
        HMM.fit_counts([[("a", "Z")]], states=["X"])
    with pytest.raises(ValueError, match="no symbol names"):
        HMM.random(2, 2).encode(["a"])


def test_sample_renormalises_rows_accepted_within_atol():
    # rows summing to 0.9 are accepted with atol=0.2; sampling must use pi / 0.9 etc., never the zero entries
    m = HMM([0.9, 0.0], [[0.9, 0.0], [0.0, 0.9]], [[0.45, 0.45, 0.0], [0.0, 0.0, 0.9]], atol=0.2)
    states, obs = m.sample(4000, rng=0)
    assert (states == 0).all()  # state 1 has probability 0 everywhere
    assert set(np.unique(obs)) == {0, 1}  # symbol 2 is never emitted by state 0
    assert np.mean(obs == 0) == pytest.approx(0.5, abs=0.03)  # 0.45 / 0.9, not 0.45
    # within the default atol, too: a row 1e-7 short of 1 never reaches its zero-probability last entry
    tiny = HMM([1 - 1e-7, 0.0], [[1 - 1e-7, 0.0], [0.5, 0.5]], [[1.0], [1.0]])
    assert (tiny.sample(2000, rng=1)[0] == 0).all()


@pytest.mark.parametrize(
    "bad",
    [
        ["the dog barks", "a cat"],  # untagged sentences given as strings
        [["the", "dog", "barks"]],  # untagged sentences given as lists of words
        "the dog barks",  # one plain string
        [("the", "D"), ("dog", "N")],  # one tagged sentence, not wrapped in a list
        [[("the", "D"), "dog"]],  # a mix
        [[("the",)]],  # items need a symbol and a state
        [["ab", "cd"]],  # two-letter words would otherwise become (letter, letter) pairs
    ],
)
def test_fit_counts_refuses_untagged_input(bad):
    with pytest.raises(ValueError, match=r"tagged_sentences.*\(symbol, state\) pair"):
        HMM.fit_counts(bad)


def test_fit_counts_refuses_bad_arguments():
    corpus = [[("the", "D"), ("dog", "N")]]
    with pytest.raises(TypeError, match="tagged_sentences must be a list"):
        HMM.fit_counts(None)
    for name in ("transition_smoothing", "emission_smoothing"):
        for value in (float("nan"), float("inf"), -float("inf")):
            with pytest.raises(ValueError, match=f"{name} must be a finite number"):
                HMM.fit_counts(corpus, **{name: value})
        with pytest.raises(ValueError, match=f"{name} must be >= 0"):
            HMM.fit_counts(corpus, **{name: -0.5})
        for value in (True, "1", None, [1.0]):
            with pytest.raises(TypeError, match=f"{name} must be a real number"):
                HMM.fit_counts(corpus, **{name: value})
    with pytest.raises(TypeError, match="states must be a list of names.*string"):
        HMM.fit_counts(corpus, states="DN")
    with pytest.raises(ValueError, match="states names must be unique"):
        HMM.fit_counts(corpus, states=["D", "N", "D"])
    with pytest.raises(ValueError, match="'dog' is not in the given symbols.*symbols=None"):
        HMM.fit_counts(corpus, symbols=["the"])
    with pytest.raises(TypeError, match="unhashable"):
        HMM.fit_counts([[(["the"], "D")]])
    with pytest.raises(TypeError, match="cannot be sorted.*states="):
        HMM.fit_counts([[("the", "D"), ("dog", 1)]])
    # numpy numbers, explicit label sets and extra states are fine
    m = HMM.fit_counts(corpus, states=["N", "D", "V"], emission_smoothing=np.float64(0.5))
    assert m.states == ["N", "D", "V"]
    np.testing.assert_allclose(m.A[2], 1 / 3)  # V never seen: uniform row


@pytest.mark.parametrize("func", ["forward", "backward", "viterbi"])
@pytest.mark.parametrize("bad_value,what", [(np.nan, "NaN"), (np.inf, "+inf")])
def test_log_functions_refuse_nan_and_inf_scores(weather, func, bad_value, what):
    call = {
        "forward": lambda pi, A, e: forward_log(pi, A, e),
        "backward": lambda pi, A, e: backward_log(A, e),
        "viterbi": lambda pi, A, e: viterbi_log(pi, A, e),
    }[func]
    log_emit = weather.log_B[:, [0, 2, 1]].T.copy()
    log_emit[1, 1] = bad_value
    with pytest.raises(ValueError, match=rf"log_emit contains {re.escape(what)} at index \(1, 1\).*-inf"):
        call(weather.log_pi, weather.log_A, log_emit)
    log_A = weather.log_A.copy()
    log_A[0, 1] = bad_value
    with pytest.raises(ValueError, match=f"log_A contains {re.escape(what)}"):
        call(weather.log_pi, log_A, weather.log_B[:, [0, 2]].T)
    if func != "backward":
        with pytest.raises(ValueError, match=f"log_pi contains {re.escape(what)}"):
            call(np.array([0.0, bad_value]), weather.log_A, weather.log_B[:, [0, 2]].T)
    with pytest.raises(TypeError, match="log_emit must be an array of log probabilities"):
        call(weather.log_pi, weather.log_A, [["a", "b"]])
    # -inf (log 0) is a valid score; lists are converted
    path, logp = viterbi_log([0.0, -np.inf], [[0.0, -np.inf], [0.0, -np.inf]], [[-1.0, 0.0], [-1.0, 0.0]])
    assert path.tolist() == [0, 0] and logp == pytest.approx(-2.0)


def test_more_bad_arguments_are_rejected(weather):
    ok = dict(pi=[0.5, 0.5], A=[[1, 0], [0, 1]], B=[[1.0], [1.0]])
    for atol in (float("nan"), -1e-6, 1.0, 5.0):
        with pytest.raises(ValueError, match="atol must be"):
            HMM(**ok, atol=atol)
    for atol in ("1e-6", True, None):
        with pytest.raises(TypeError, match="atol must be a real number"):
            HMM(**ok, atol=atol)
    with pytest.raises(TypeError, match="states must be a list of names.*string"):
        HMM(**ok, states="ab")
    with pytest.raises(ValueError, match="pi must be an array of probabilities"):
        HMM(pi=["0.5", "0.5"], A=ok["A"], B=ok["B"])
    for n_iter in (float("nan"), 2.0, True, "3"):
        with pytest.raises(TypeError, match="n_iter must be an int"):
            weather.baum_welch([[0, 1]], n_iter=n_iter)
    with pytest.raises(ValueError, match="n_iter must be an int >= 0"):
        weather.baum_welch([[0, 1]], n_iter=-1)
    with pytest.raises(ValueError, match="tol must be a finite number or -inf"):
        weather.baum_welch([[0, 1]], tol=float("nan"))
    with pytest.raises(TypeError, match="tol must be a real number"):
        weather.baum_welch([[0, 1]], tol="small")
    with pytest.raises(TypeError, match=r"update must be a collection.*\('A',\)"):
        weather.baum_welch([[0, 1]], update="A")
    with pytest.raises(ValueError, match="update may only contain"):
        weather.baum_welch([[0, 1]], update=("A", 1))
    with pytest.raises(ValueError, match="sequences must be a list of observation sequences"):
        weather.baum_welch("012")
    with pytest.raises(TypeError, match="sequences must be a list of observation sequences"):
        weather.baum_welch(None)
    with pytest.raises(ValueError, match="sequences is empty"):
        weather.baum_welch([])
    for rng in ("seed", 1.5, -1):
        with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
            weather.sample(3, rng=rng)
    with pytest.raises(TypeError, match="n_states must be an int"):
        HMM.random(2.0, 3)
    with pytest.raises(TypeError, match="n_symbols must be an int"):
        HMM.random(2, True)
    with pytest.raises(ValueError, match="need n_states >= 1"):
        HMM.random(0, 3)
    # still accepted: numpy ints, tol=-inf, Generators and seed sequences
    model, history = weather.baum_welch([[0, 1, 2]], n_iter=np.int64(2), tol=-np.inf)
    assert len(history) == 3
    assert weather.sample(4, rng=np.random.SeedSequence(1))[0].shape == (4,)


# ------------------------------------------------------------------ a corpus at once


def sparse_model(seed: int, n: int = 5, m: int = 6) -> HMM:
    """A random model with zero transitions and emissions, so that some sequences are impossible."""
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) > 0.4)
    A[np.arange(n), np.arange(n)] += 0.1  # every row keeps some mass
    B = rng.random((n, m)) * (rng.random((n, m)) > 0.4)
    B[:, 0] += 0.1
    B[:, m - 1] = 0.0
    B[0, m - 1] = 0.5  # only state 0 emits the last symbol, and state 0 never follows itself:
    A[0, 0], A[0, 1] = 0.0, A[0, 1] + 0.1  # two last symbols in a row are impossible
    pi = rng.random(n)
    return HMM(pi / pi.sum(), A / A.sum(1, keepdims=True), B / B.sum(1, keepdims=True))


@pytest.mark.parametrize("seed", range(4))
def test_batch_methods_equal_one_sequence_at_a_time(seed: int) -> None:
    model = sparse_model(seed) if seed % 2 else HMM.random(4, 7, seed=seed)
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(0, model.n_symbols, size=T) for T in rng.integers(1, 40, size=25)]
    last = model.n_symbols - 1
    seqs += [np.array([0]), rng.integers(0, model.n_symbols, size=300)]  # length 1, and a long one
    seqs += [np.array([last, last]), np.array([1, 2, last, last, 0])]  # impossible under sparse_model
    lls = model.batch_log_likelihood(seqs)
    expected = np.array([model.log_likelihood(o) for o in seqs])
    assert lls.shape == (len(seqs),)
    np.testing.assert_array_equal(np.isfinite(lls), np.isfinite(expected))
    np.testing.assert_allclose(lls[np.isfinite(lls)], expected[np.isfinite(expected)], rtol=1e-12, atol=1e-9)
    if seed % 2:
        assert not np.isfinite(expected).all(), "the sparse model should make some sequences impossible"
    for (path, logp), obs in zip(model.batch_viterbi(seqs), seqs, strict=True):
        ref_path, ref_logp = model.viterbi(obs)
        np.testing.assert_array_equal(path, ref_path)
        assert logp == ref_logp or (np.isneginf(logp) and np.isneginf(ref_logp))


def test_batch_log_likelihood_of_long_sequences_does_not_underflow(weather: HMM) -> None:
    _, long_obs = weather.sample(5000, rng=0)
    ll = weather.batch_log_likelihood([long_obs, long_obs[:10]])
    np.testing.assert_allclose(ll, [weather.log_likelihood(long_obs), weather.log_likelihood(long_obs[:10])])
    assert np.isfinite(ll).all() and ll[0] < -4000


def test_batch_methods_agree_with_hmmlearn() -> None:
    model = HMM.random(6, 9, seed=3)
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 9, size=T) for T in rng.integers(1, 30, size=40)]
    ref = to_hmmlearn(model)
    X, lengths = np.concatenate(seqs)[:, None], [len(o) for o in seqs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(model.batch_log_likelihood(seqs).sum(), ref.score(X, lengths), rtol=1e-12)
        _, ref_paths = ref.decode(X, lengths, algorithm="viterbi")
    np.testing.assert_array_equal(np.concatenate([p for p, _ in model.batch_viterbi(seqs)]), ref_paths)


def test_batch_methods_bad_input(weather: HMM) -> None:
    for method in (weather.batch_log_likelihood, weather.batch_viterbi):
        with pytest.raises(ValueError, match="sequences is empty"):
            method([])
        with pytest.raises(ValueError, match="one 1-D array"):
            method(np.array([0, 1, 2]))
        with pytest.raises(ValueError, match=r"sequences\[1\] is a single number"):
            method([[0, 1], 2])
        with pytest.raises(ValueError, match=r"sequences\[1\]: observation 7 at position 1 is out of range"):
            method([[0, 1], [0, 7]])
        with pytest.raises(TypeError, match=r"sequences\[0\]: obs must contain integer"):
            method([[0.5, 1.0]])
        with pytest.raises(ValueError, match=r"sequences\[0\]: obs must be a non-empty"):
            method([[]])
        with pytest.raises(TypeError, match="list of 1-D symbol-id sequences"):
            method("clear cloudy")
        with pytest.raises(TypeError, match="list of 1-D symbol-id sequences"):
            method(5)
        with pytest.raises(TypeError, match=r"sequences\[0\] is a string .*encode"):
            method(["clear", "cloudy"])


def test_batch_viterbi_breaks_ties_like_viterbi() -> None:
    tied = HMM(np.full(3, 1 / 3), np.full((3, 3), 1 / 3), [[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]])
    seqs = [np.array([0, 1, 0]), np.array([1]), np.array([0, 0, 0, 0, 1])]
    for (path, logp), obs in zip(tied.batch_viterbi(seqs), seqs, strict=True):
        ref_path, ref_logp = tied.viterbi(obs)
        np.testing.assert_array_equal(path, ref_path)
        assert logp == ref_logp
