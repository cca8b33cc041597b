"""course_utils: the shared, tested helpers of the course
"Sequence Models for NLP: from HMMs to Transformers" (序列模型：从 HMM 到 Transformer).

One concept per module: ``runtime`` (device, seed, profile), ``data`` (bundled data sets),
``text`` (vocabulary, tokenizers, padding, bucketing), ``train`` (training loop, checkpoints),
``metrics`` and ``plot``; then, per part of the course, ``hmm`` and ``tagger`` (01), ``ngram`` (02),
``names`` (04), ``rnn`` and ``charmodels`` (05), and for translation (08-10) ``translation`` (the
Multi30k pipeline and training recipe), ``seq2seq`` (RNN encoder-decoders), ``attention``,
``decoding`` (greedy, beam search, sampling on one interface), ``bleu``, ``results`` (the course's results
tables) and ``explorer`` (the interactive translator); ``transformer`` (10) and ``lm`` (language-model data on
notebook 02's terms, for 07 and 10).
"""

from course_utils.runtime import by_profile, get_device, get_profile, seed_everything, setup

__version__ = "0.1.0"
__all__ = ["by_profile", "get_device", "get_profile", "seed_everything", "setup", "__version__"]
