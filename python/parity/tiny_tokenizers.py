"""Small tokenizers trained with the `tokenizers` library for the tiny checkpoints.

- `bytelevel`: GPT-2/SmolLM2-style byte-level BPE (ByteLevel pre-tokenizer with GPT-2's regex,
  no prefix space, no normaliser), special tokens <|endoftext|> 0, <|im_start|> 1, <|im_end|> 2
  as in SmolLM2. No BOS is added to plain text.
- `metaspace`: Mistral/Llama-2-style BPE: normaliser Prepend("▁") + Replace(" ", "▁"), no
  pre-tokenizer, byte fallback (<0x00>..<0xFF> at ids 3..258), <unk> 0, <s> 1, </s> 2, a
  post-processor that prepends <s>, and the SentencePiece-style decoder. The layout of
  Mistral-7B-v0.1's tokenizer.json, at a tiny vocabulary.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

BYTELEVEL_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
METASPACE_SPECIALS = ["<unk>", "<s>", "</s>"]

# Varied training text: prose, chat turns, arithmetic, code, other scripts. Rare scripts and
# emoji are here so that byte-level tokens for them exist; the vocabulary stays tiny.
CORPUS = [
    "The quick brown fox jumps over the lazy dog. The dog did not mind; it was asleep.",
    "What is 12 + 7? The answer is 19. What is 123 * 4? The answer is 492.",
    "Alice has 3 apples and buys 5 more. How many apples does she have now? She has 8 apples.",
    "A train leaves the station at 9:45 and arrives at 11:20. How long is the trip?",
    "I'll be there at 10. Don't worry, we're almost done. They've said it's fine, isn't it?",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # 5\n",
    "for (let i = 0; i < n; i++) {\n\tsum += values[i];\n}\nconsole.log(sum);",
    "<|im_start|>user\nHello there!<|im_end|>\n<|im_start|>assistant\nHi! How can I help you today?<|im_end|>\n",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nAdd 4 and 9.<|im_end|>\n",
    "Le café est très chaud. Où est la bibliothèque ? Ça va très bien, merci.",
    "Größe, Straße und Übung sind deutsche Wörter. Schön!",
    "Привет, как дела? Всё хорошо, спасибо.",
    "Καλημέρα κόσμε. Ένα, δύο, τρία.",
    "你好，世界。我想在苹果公司工作。",
    "こんにちは世界。カタカナとひらがな。",
    "مرحبا بالعالم",
    "Emoji: 🙂 🚀 👍🏽 🦙 ✅ — and a heart ❤️.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 3.14159 2,718 1e-5 -42",
    "Whitespace   runs\t\ttabs\n\n\nnew lines   and trailing spaces   ",
    "The model reads the prompt, then writes the answer one token at a time.",
    "Importance weighting tightens the bound; supervised fine-tuning on curated data is reinforcement learning.",
    "SELECT name, count(*) FROM runs WHERE status = 'done' GROUP BY name;",
    '{"key": "value", "list": [1, 2, 3], "nested": {"a": true, "b": null}}',
    "Mr. Smith's cat can't climb; the cats' owners weren't home. You'd think it'd be easy.",
]


MISTRAL_CHAT = [
    "[INST] What is 12 + 7? [/INST] 19</s>",
    "[INST] Write a short poem about the sea. [/INST] The sea is wide and blue.</s>",
]


def _corpus(repeat: int = 8, chat: str = "chatml") -> list[str]:
    texts = [t for t in CORPUS if "<|im_" not in t] + MISTRAL_CHAT if chat == "mistral" else CORPUS
    return [t for _ in range(repeat) for t in texts]


def train_bytelevel(vocab_size: int = 384) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=BYTELEVEL_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    assert tok.get_vocab_size() == vocab_size, tok.get_vocab_size()
    for i, s in enumerate(BYTELEVEL_SPECIALS):
        assert tok.token_to_id(s) == i
    return tok


def train_metaspace(n_learned: int = 160) -> Tokenizer:
    """Mistral-like: specials, then the 256 byte-fallback tokens, then learned pieces."""
    # Learn pieces (and merges) on ▁-marked words, as SentencePiece does.
    learner = Tokenizer(models.BPE())
    learner.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    learner.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    trainer = trainers.BpeTrainer(
        vocab_size=n_learned, min_frequency=2, limit_alphabet=48, special_tokens=[], show_progress=False
    )
    learner.train_from_iterator(_corpus(chat="mistral"), trainer)
    learned_vocab = learner.get_vocab()
    import json

    model = json.loads(learner.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    vocab: dict[str, int] = {}
    for s in METASPACE_SPECIALS:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in sorted(learned_vocab.items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    from tokenizers import AddedToken

    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in METASPACE_SPECIALS])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    return tok
