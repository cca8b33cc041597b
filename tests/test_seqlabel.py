"""Tests for course_utils.seqlabel: the BiLSTM tagger's vocabulary, batches, character model, loss and scores."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils.seqlabel import (
    BiLSTMTagger,
    CharCNN,
    TaggerVocab,
    TokenCrossEntropy,
    evaluate_tagger,
    predict_tags,
    tagger_loader,
    train_bilstm_tagger,
)
from course_utils.tagger import _score

TRAIN = [
    [("The", "DT", "B-NP"), ("dog", "NN", "I-NP"), ("runs", "VBZ", "B-VP"), (".", ".", "O")],
    [("A", "DT", "B-NP"), ("cat", "NN", "I-NP"), ("sleeps", "VBZ", "B-VP"), (".", ".", "O")],
    [("The", "DT", "B-NP"), ("cat", "NN", "I-NP"), ("runs", "VBZ", "B-VP"), ("quickly", "RB", "B-ADVP")],
    [("Dogs", "NNS", "B-NP"), ("run", "VBP", "B-VP")],
]


def test_vocab_words_chars_tags():
    vocab = TaggerVocab(TRAIN)
    assert vocab.words[:2] == ["<pad>", "<unk>"] and "the" in vocab.words and "The" not in vocab.words
    assert vocab.tags == [".", "DT", "NN", "NNS", "RB", "VBP", "VBZ"]
    assert vocab.known == {"The", "dog", "runs", ".", "A", "cat", "sleeps", "quickly", "Dogs", "run"}
    assert vocab.word_ids(["THE", "zebra"]).tolist() == [vocab.word_index["the"], 1]
    assert vocab.char_ids("Tx").tolist() == [2, vocab.char_index["T"], 1, 3]  # "x" never seen
    assert vocab.singletons[vocab.word_index["dog"]] and not vocab.singletons[vocab.word_index["the"]]
    with pytest.raises(ValueError, match="not in the training data"):
        vocab.tag_ids(["XYZ"])
    assert "7 tags" in repr(vocab)


def test_vocab_bad_input():
    with pytest.raises(TypeError, match="list of sentences"):
        TaggerVocab("The dog")
    with pytest.raises(ValueError, match="non-empty"):
        TaggerVocab([[]])
    with pytest.raises(ValueError, match=r"\(word, tag"):
        TaggerVocab([["The", "dog"]])


def test_loader_batches_shapes_and_padding():
    vocab = TaggerVocab(TRAIN)
    batches = list(tagger_loader(vocab, TRAIN, batch_size=2))
    assert len(batches) == 2
    (words, lengths, chars, char_lengths, types), tags = batches[0]
    assert words.shape == types.shape == tags.shape and lengths.tolist() == [2, 4]
    assert (tags[0, 2:] == -100).all() and (words[0, 2:] == 0).all()
    # every word's row in `chars` spells that word
    sent = [tok[0] for tok in TRAIN[3]]
    for t, w in enumerate(sent):
        row = types[0, t]
        assert chars[row, : char_lengths[row]].tolist() == vocab.char_ids(w).tolist()


def test_loader_word_dropout_only_hits_singletons():
    vocab = TaggerVocab(TRAIN)
    seen = torch.zeros(len(vocab.words), dtype=torch.bool)
    for seed in range(30):
        for (words, *_rest), _tags in tagger_loader(
            vocab, TRAIN, 4, shuffle=True, unk_replace=1.0, seed=seed
        ):
            seen[words.flatten()] = True
    assert not seen[vocab.singletons].any()  # every singleton became <unk>
    assert seen[vocab.word_index["the"]] and seen[1]
    with pytest.raises(ValueError, match="unk_replace"):
        tagger_loader(vocab, TRAIN, unk_replace=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        tagger_loader(vocab, TRAIN, batch_size=0)


def test_char_cnn_ignores_padding_and_matches_a_loop():
    torch.manual_seed(0)
    cnn = CharCNN(10, char_dim=4, filters=3, width=3, dropout=0.0)
    chars = torch.tensor([[2, 5, 6, 3], [2, 7, 3, 0]])
    lengths = torch.tensor([4, 3])
    out = cnn(chars, lengths)
    for b in range(2):
        n = int(lengths[b])
        e = nn.functional.pad(cnn.embedding(chars[b, :n]).T, (1, 1))  # (char_dim, n + 2)
        conv = torch.stack(
            [cnn.conv.bias + (cnn.conv.weight * e[:, s : s + 3]).sum((1, 2)) for s in range(n)]
        )
        torch.testing.assert_close(out[b], conv.amax(0))


def test_token_cross_entropy_ignores_padding():
    logits = torch.randn(2, 3, 5)
    tags = torch.tensor([[1, 2, -100], [0, 4, 3]])
    loss = TokenCrossEntropy()(logits, tags)
    keep = tags != -100
    expected = nn.functional.cross_entropy(logits[keep], tags[keep])
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        TokenCrossEntropy()(logits[0], tags)


def test_tagger_is_padding_invariant_and_learns():
    torch.manual_seed(0)
    vocab = TaggerVocab(TRAIN)
    model = BiLSTMTagger(vocab, word_dim=8, char_filters=6, hidden=8, dropout=0.0)
    (inputs, tags) = next(iter(tagger_loader(vocab, TRAIN, batch_size=4)))
    model.eval()
    together = model(*inputs)
    assert together.shape == (*tags.shape, len(vocab.tags))
    words = [[tok[0] for tok in s] for s in TRAIN]
    order = sorted(range(4), key=lambda i: len(words[i]))  # the loader's batch order
    for b, i in enumerate(order):
        alone = predict_tags(model, [words[i]])[0]
        assert alone == [vocab.tags[j] for j in together[b, : len(words[i])].argmax(-1).tolist()]
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(40):
        opt.zero_grad()
        loss = TokenCrossEntropy()(model(*inputs), tags)
        loss.backward()
        opt.step()
    scores = evaluate_tagger(model, TRAIN)
    assert scores.accuracy == 1.0 and scores.n_unknown == 0


def test_evaluate_tagger_counts_known_and_unknown_words():
    torch.manual_seed(0)
    vocab = TaggerVocab(TRAIN)
    model = BiLSTMTagger(vocab, word_dim=4, char_filters=4, hidden=4)
    test = [[("The", "DT", "B-NP"), ("zebra", "NN", "I-NP"), ("runs", "VBZ", "B-VP")]]
    pred = predict_tags(model, [["The", "zebra", "runs"]])
    expected = _score([["DT", "NN", "VBZ"]], pred, [[True, False, True]])
    assert evaluate_tagger(model, test) == expected and expected.n_unknown == 1


def test_tagger_bad_input():
    vocab = TaggerVocab(TRAIN)
    with pytest.raises(ValueError, match="hidden"):
        BiLSTMTagger(vocab, hidden=0)
    with pytest.raises(ValueError, match="dropout"):
        BiLSTMTagger(vocab, dropout=1.0)
    with pytest.raises(ValueError, match="rows"):
        BiLSTMTagger(vocab, word_vectors=nn.Embedding(3, 5))
    model = BiLSTMTagger(vocab, word_vectors=nn.Embedding(len(vocab.words), 7))
    assert model.lstm.input_size == 7 + 50
    with pytest.raises(ValueError, match="tagger_loader"):
        model(torch.zeros(2, 3, dtype=torch.long), torch.tensor([3]), torch.zeros(1, 3, dtype=torch.long),
              torch.tensor([3]), torch.zeros(2, 3, dtype=torch.long))  # fmt: skip
    (inputs, _tags) = next(iter(tagger_loader(vocab, TRAIN, batch_size=4)))
    words, lengths, chars, char_lengths, types = inputs
    with pytest.raises(ValueError, match=r"\[1, T\]"):
        model(words, lengths + 10, chars, char_lengths, types)
    with pytest.raises(ValueError, match="chars"):
        model(words, lengths, chars[:1], char_lengths[:1], types)
    with pytest.raises(ValueError, match="lists of words"):
        predict_tags(model, [[("The", "DT")]])
    with pytest.raises(ValueError, match=r"\(word, tag"):
        evaluate_tagger(model, [["The"]])


def test_train_bilstm_tagger_fits_a_small_set():
    model, history = train_bilstm_tagger(TRAIN * 8, epochs=6, batch_size=4, lr=0.02, progress=False,
                                         word_dim=8, char_filters=8, hidden=8, dropout=0.0)  # fmt: skip
    assert len(history) == 6 and history["train_loss"][-1] < history["train_loss"][0]
    assert evaluate_tagger(model, TRAIN).accuracy == 1.0
    assert predict_tags(model, [["A", "zebra", "runs"]])[0][0] == "DT"


def test_vocab_refuses_empty_data_and_non_str_tags():
    with pytest.raises(ValueError, match="train is empty"):
        TaggerVocab([])
    with pytest.raises(ValueError, match="tuples of str"):
        TaggerVocab([[("a", 1), ("b", 2)]])  # int tags would become the tag set silently
    with pytest.raises(ValueError, match="tuples of str"):
        TaggerVocab([[(1, "X")]])


def test_vocab_encoders_refuse_a_str_or_non_str_items():
    vocab = TaggerVocab(TRAIN)
    with pytest.raises(TypeError, match="split the sentence first"):
        vocab.word_ids("the dog")  # would encode each character as a word
    with pytest.raises(TypeError, match=r"words\[0\] is 1, not a str"):
        vocab.word_ids([1, 2])
    with pytest.raises(TypeError, match="split the sentence first"):
        vocab.tag_ids("DT")
    with pytest.raises(TypeError, match=r"tags\[0\] is \['DT'\], not a str"):
        vocab.tag_ids([["DT"]])
    with pytest.raises(TypeError, match="one word"):
        vocab.char_ids(["d", "o", "g"])
    with pytest.raises(TypeError, match="one word"):
        vocab.char_ids(5)


def test_loader_bad_arguments():
    vocab = TaggerVocab(TRAIN)
    with pytest.raises(TypeError, match="vocab must be a TaggerVocab"):
        tagger_loader(None, TRAIN)
    with pytest.raises(ValueError, match="sentences is empty"):
        tagger_loader(vocab, [])
    for bad in (True, "0.5", -0.1, float("nan")):
        with pytest.raises(ValueError, match="unk_replace"):
            tagger_loader(vocab, TRAIN, unk_replace=bad)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        tagger_loader(vocab, TRAIN, shuffle="yes")
    for bad in (1.5, True, "0"):
        with pytest.raises(TypeError, match="seed must be an int"):
            tagger_loader(vocab, TRAIN, seed=bad)


def test_token_cross_entropy_bad_input():
    ce, logits = TokenCrossEntropy(), torch.randn(2, 3, 5)
    with pytest.raises(TypeError, match="tensors"):
        ce(logits, [[0, 1, 2], [0, 1, 2]])
    with pytest.raises(TypeError, match="tags must be integer"):
        ce(logits, torch.zeros(2, 3))
    with pytest.raises(TypeError, match="tags must be integer"):
        ce(logits, torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="logits must be floating-point"):
        ce(torch.zeros(2, 3, 5, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 5\) or -100"):
        ce(logits, torch.tensor([[1, 2, 5], [0, 4, 3]]))
    with pytest.raises(ValueError, match=r"\[0, 5\) or -100"):
        ce(logits, torch.tensor([[1, 2, -1], [0, 4, 3]]))
    with pytest.raises(ValueError, match="every tag is -100"):
        ce(logits, torch.full((2, 3), -100))  # torch would return NaN


def test_char_cnn_bad_input():
    for kwargs, name in [({"n_chars": 0}, "n_chars"), ({"char_dim": 2.5}, "char_dim"), ({"filters": True}, "filters"),
                         ({"width": 0}, "width")]:  # fmt: skip
        with pytest.raises(ValueError, match=f"{name} must be a positive int"):
            CharCNN(**{"n_chars": 10, **kwargs})
    with pytest.raises(ValueError, match="dropout"):
        CharCNN(10, dropout=1.5)
    cnn = CharCNN(10, char_dim=4, filters=3, dropout=0.0)
    chars, lengths = torch.tensor([[2, 5, 6, 3], [2, 7, 3, 0]]), torch.tensor([4, 3])
    with pytest.raises(ValueError, match=r"chars of shape \(B, T\)"):
        cnn(chars[0], lengths)
    with pytest.raises(TypeError, match="integer chars ids"):
        cnn(chars.float(), lengths)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 10\)"):
        cnn(chars + 10, lengths)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 10\)"):
        cnn(chars - 3, lengths)
    with pytest.raises(ValueError, match="empty batch"):
        cnn(chars[:0], lengths[:0])
    with pytest.raises(ValueError, match=r"lengths of shape \(2,\)"):
        cnn(chars, lengths[:1])  # would broadcast one length over every word
    with pytest.raises(ValueError, match=r"lengths of shape \(2,\)"):
        cnn(chars, [4, 3])
    with pytest.raises(TypeError, match="lengths must be integers"):
        cnn(chars, lengths.float())
    with pytest.raises(ValueError, match=r"\[1, T\] = \[1, 4\]"):
        cnn(chars, torch.tensor([0, 3]))  # a word of no characters: a row of -inf
    with pytest.raises(ValueError, match=r"\[1, T\] = \[1, 4\]"):
        cnn(chars, torch.tensor([5, 3]))


def test_tagger_forward_bad_input():
    vocab = TaggerVocab(TRAIN)
    with pytest.raises(TypeError, match="vocab must be a TaggerVocab"):
        BiLSTMTagger(TRAIN)
    with pytest.raises(TypeError, match="nn.Embedding"):
        BiLSTMTagger(vocab, word_vectors=torch.zeros(len(vocab.words), 5))
    model = BiLSTMTagger(vocab, word_dim=4, char_filters=4, hidden=4)
    (inputs, _tags) = next(iter(tagger_loader(vocab, TRAIN, batch_size=4)))
    words, lengths, chars, char_lengths, types = inputs
    with pytest.raises(ValueError, match=r"words of shape \(B, T\)"):
        model(words.tolist(), lengths, chars, char_lengths, types)
    with pytest.raises(TypeError, match="integer words ids"):
        model(words.float(), lengths, chars, char_lengths, types)
    with pytest.raises(ValueError, match=r"words ids must be in \[0, "):
        model(words + len(vocab.words), lengths, chars, char_lengths, types)
    with pytest.raises(ValueError, match=r"words ids must be in \[0, "):
        model(words - 100, lengths, chars, char_lengths, types)
    with pytest.raises(ValueError, match="empty batch"):
        model(words[:0], lengths[:0], chars, char_lengths, types[:0])
    with pytest.raises(TypeError, match="lengths must be integers"):
        model(words, lengths.float(), chars, char_lengths, types)  # 2.5 would be truncated silently
    with pytest.raises(ValueError, match="types of the shape of words"):
        model(words, lengths, chars, char_lengths, types[:, :1])
    with pytest.raises(TypeError, match="types must be integer"):
        model(words, lengths, chars, char_lengths, types.float())
    with pytest.raises(ValueError, match="types indexing the N"):
        model(words, lengths, chars, char_lengths, types - 1)  # -1 would pick the last row silently
    with pytest.raises(ValueError, match=r"chars ids must be in \[0, "):
        model(words, lengths, chars + len(vocab.chars), char_lengths, types)
    with pytest.raises(TypeError, match="char_lengths must be integers"):
        model(words, lengths, chars, char_lengths.float(), types)


def test_predict_and_evaluate_bad_input():
    vocab = TaggerVocab(TRAIN)
    model = BiLSTMTagger(vocab, word_dim=4, char_filters=4, hidden=4)
    with pytest.raises(TypeError, match="predict_tags expects a BiLSTMTagger"):
        predict_tags(None, [["a"]])
    with pytest.raises(TypeError, match="evaluate_tagger expects a BiLSTMTagger"):
        evaluate_tagger(nn.Linear(2, 2), TRAIN)
    for bad in (0, -1, 1.5, True):  # -1 returned [] silently
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            predict_tags(model, [["a"]], batch_size=bad)
    with pytest.raises(ValueError, match="sentences is empty"):
        evaluate_tagger(model, [])  # scores of no tokens were NaN
    with pytest.raises(ValueError, match="tuples of str"):
        evaluate_tagger(model, [[("The", 1)]])


def test_train_bilstm_tagger_bad_arguments():
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="epochs must be an int >= 1"):
            train_bilstm_tagger(TRAIN, epochs=bad, progress=False)
    for bad in (0, -1.0, float("nan"), float("inf"), "3e-3"):  # lr = 0 trained nothing, silently
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            train_bilstm_tagger(TRAIN, epochs=1, lr=bad, progress=False)
    with pytest.raises(TypeError, match="seed must be an int"):
        train_bilstm_tagger(TRAIN, epochs=1, seed=1.5, progress=False)
    with pytest.raises(ValueError, match="train is empty"):
        train_bilstm_tagger([], epochs=1, progress=False)
