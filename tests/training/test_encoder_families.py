"""Every BERT-like family trains and predicts through the same pipeline: tiny BERT, ELECTRA,
RoBERTa and DeBERTa-v3 models built from configs, with fast tokenizers trained here on a few
sentences in each family's piece convention (WordPiece "##", byte-level BPE "Ġ", sentencepiece
"▁")."""

import pytest

from annotation.text.tokenize import tokenize
from training.ml import examples as ex
from training.ml.data import Hyperparameters, TrainingDocument
from training.ml.encoders import load_tokenizer, splits_words_like_text, usable_positions
from training.ml.inference import Predictor
from training.ml.pipeline import tag_list, train

pytestmark = pytest.mark.slow  # trains small models

SENTENCES = [
    ("The patient has breast cancer and was given chemotherapy.", ["breast cancer"], ["chemotherapy"]),
    ("Asthma was treated with insulin after surgery.", ["Asthma"], ["insulin", "surgery"]),
    ("A  patient with lung disease was given aspirin.", ["lung disease"], ["aspirin"]),
    ("Diabetes of the patient was treated with insulin.", ["Diabetes"], ["insulin"]),
    ("The patient with asthma had surgery (twice).", ["asthma"], ["surgery"]),
    ("Chemotherapy for lung cancer was given.", ["lung cancer"], ["Chemotherapy"]),
    ("The patient recovered after aspirin and surgery.", [], ["aspirin", "surgery"]),
    ("Breast cancer and diabetes were treated with chemotherapy.", ["Breast cancer", "diabetes"], ["chemotherapy"]),
]
SPECIALS = {"cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "unk": "[UNK]", "mask": "[MASK]"}
ROBERTA_SPECIALS = {"cls": "<s>", "pad": "<pad>", "sep": "</s>", "unk": "<unk>", "mask": "<mask>"}  # ids as in RoBERTa
# What the first piece of a word looks like in each family (a continuation piece does not).
WORD_START = {
    "bert": lambda piece: not piece.startswith("##"),
    "electra": lambda piece: not piece.startswith("##"),
    "roberta": lambda piece: piece.startswith("Ġ"),
    "deberta-v2": lambda piece: piece.startswith("▁"),
}
FAMILIES = list(WORD_START)


def tokenize_words(text: str) -> list[str]:
    tokens = tokenize(text)
    return [text[s:e] for s, e in zip(tokens.starts, tokens.ends)]


def _trained_backend(family: str, specials: dict):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    corpus = [text for text, _, _ in SENTENCES] * 2
    names = list(specials.values())
    if family == "roberta":
        backend = Tokenizer(models.BPE(unk_token=specials["unk"]))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=400, special_tokens=names, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
    elif family == "deberta-v2":
        # A sentencepiece-style Unigram vocabulary: "▁" + each word of the corpus ("▁chemo" +
        # "therapy" for one of them, so words split into pieces too), then single characters.
        words = sorted({word for text in corpus for word in tokenize_words(text)} - {"chemotherapy", "Chemotherapy"})
        pieces = [f"▁{word}" for word in words] + ["▁chemo", "▁Chemo", "therapy"]
        characters = sorted({c for text in corpus for c in text if c != " "})
        vocabulary = [(name, 0.0) for name in names] + [(piece, -5.0) for piece in pieces]
        vocabulary += [(piece, -12.0) for piece in ["▁", *characters]]
        backend = Tokenizer(models.Unigram(vocabulary, unk_id=names.index(specials["unk"])))
        backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Punctuation(), pre_tokenizers.Metaspace()])
        backend.decoder = decoders.Metaspace()
        trainer = None
    else:
        backend = Tokenizer(models.WordPiece(unk_token=specials["unk"]))
        backend.normalizer = normalizers.BertNormalizer(lowercase=True)
        backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        backend.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=120, special_tokens=names)
    if trainer is not None:
        backend.train_from_iterator(corpus, trainer)
    cls, sep = specials["cls"], specials["sep"]
    if family == "roberta":
        backend.post_processor = processors.RobertaProcessing(
            (sep, backend.token_to_id(sep)), (cls, backend.token_to_id(cls)), add_prefix_space=True
        )
    else:
        backend.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}",
            special_tokens=[(cls, backend.token_to_id(cls)), (sep, backend.token_to_id(sep))],
        )
    return backend


def build_tiny_encoder(directory, family: str) -> str:
    """A 2-layer, 32-wide encoder of `family` and its tokenizer, saved as a local model directory."""
    import torch
    import transformers as hf

    classes = {
        "bert": (hf.BertTokenizerFast, hf.BertConfig, hf.BertForTokenClassification),
        "electra": (hf.ElectraTokenizerFast, hf.ElectraConfig, hf.ElectraForTokenClassification),
        "roberta": (hf.RobertaTokenizerFast, hf.RobertaConfig, hf.RobertaForTokenClassification),
        "deberta-v2": (hf.DebertaV2TokenizerFast, hf.DebertaV2Config, hf.DebertaV2ForTokenClassification),
    }
    tokenizer_class, config_class, model_class = classes[family]
    specials = ROBERTA_SPECIALS if family == "roberta" else SPECIALS
    tokenizer = tokenizer_class(
        tokenizer_object=_trained_backend(family, specials),
        **{f"{role}_token": token for role, token in specials.items()},
        bos_token=specials["cls"],
        eos_token=specials["sep"],
    )
    extra = {"position_biased_input": False, "relative_attention": True} if family == "deberta-v2" else {}
    if family == "electra":
        extra["embedding_size"] = 16
    config = config_class(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=66 if family == "roberta" else 64,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )
    torch.manual_seed(0)
    model_class(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="module", params=FAMILIES)
def family_model(request, tmp_path_factory):
    return request.param, build_tiny_encoder(tmp_path_factory.mktemp(request.param), request.param)


def documents() -> list[TrainingDocument]:
    result = []
    for index, (text, diseases, treatments) in enumerate(SENTENCES):
        tokens = tokenize(text)
        offsets = list(zip(tokens.starts, tokens.ends))
        tags = ["O"] * len(offsets)
        for label, mentions in (("DISEASE", diseases), ("TREATMENT", treatments)):
            for mention in mentions:
                start = text.index(mention)
                inside = [i for i, (s, e) in enumerate(offsets) if s >= start and e <= start + len(mention)]
                tags[inside[0]] = f"B-{label}"
                for i in inside[1:]:
                    tags[i] = f"I-{label}"
        words = [text[s:e] for s, e in offsets]
        result.append(TrainingDocument(f"d{index}", words, tags, is_dev=index >= 6, text=text, token_offsets=offsets))
    return result


def test_each_word_label_sits_on_its_first_piece_in_the_family_convention(family_model):
    family, directory = family_model
    tokenizer = load_tokenizer(directory)
    assert splits_words_like_text(tokenizer)
    docs = documents()
    tags = tag_list(["DISEASE", "TREATMENT"])
    tag_to_id = {tag: i for i, tag in enumerate(tags)}
    built = ex.build_examples(tokenizer, [d.tokens for d in docs], 64, [d.tags for d in docs], tag_to_id)
    for example in built:
        pieces = tokenizer.convert_ids_to_tokens(example.input_ids)
        words = docs[example.doc_index].tokens[example.start : example.end]
        labelled = [i for i, label in enumerate(example.labels) if label != ex.IGNORE_INDEX]
        assert [example.word_ids[i] for i in labelled] == list(range(len(words)))
        for position in labelled:
            word = example.word_ids[position]
            assert example.labels[position] == tag_to_id[docs[example.doc_index].tags[example.start + word]]
            assert WORD_START[family](pieces[position]), (family, words[word], pieces)
        continuation = [i for i, w in enumerate(example.word_ids) if w is not None and i not in labelled]
        assert not any(WORD_START[family](pieces[i]) for i in continuation), (family, pieces)


def test_a_byte_level_tokenizer_gets_word_starts_for_pre_split_words(tmp_path):
    from transformers import AutoTokenizer

    directory = build_tiny_encoder(tmp_path, "roberta")
    plain = AutoTokenizer.from_pretrained(directory)
    assert not splits_words_like_text(plain)  # the mistake load_tokenizer exists to prevent
    assert splits_words_like_text(load_tokenizer(directory))


@pytest.mark.parametrize("family", ["roberta", "deberta-v2", "electra"])
def test_a_family_trains_and_predicts_spans_at_their_character_offsets(family, tmp_path):
    directory = build_tiny_encoder(tmp_path / "base", family)
    docs = documents()
    hp = Hyperparameters(epochs=30, learning_rate=5e-3, batch_size=2, max_length=64, patience=0, warmup_ratio=0.0)
    result = train(docs, ["DISEASE", "TREATMENT"], hp, base_model=directory, output_dir=tmp_path / "model")
    assert result.evaluation is not None
    predictor = Predictor.from_dir(tmp_path / "model")
    assert predictor.max_pieces <= usable_positions(predictor.model) - 2
    text = "The patient  with breast cancer was given chemotherapy and insulin."
    tokens = tokenize(text)
    found = {(text[s.start : s.end], s.label) for s in predictor.predict(text, tokens.starts, tokens.ends).suggestions}
    assert {("breast cancer", "DISEASE"), ("chemotherapy", "TREATMENT"), ("insulin", "TREATMENT")} <= found


def test_a_long_text_predicts_within_the_position_limit_of_each_family(family_model, tmp_path):
    family, directory = family_model
    docs = documents()
    hp = Hyperparameters(epochs=1, batch_size=4, max_length=64, patience=0)
    train(docs, ["DISEASE", "TREATMENT"], hp, base_model=directory, output_dir=tmp_path / family)
    predictor = Predictor.from_dir(tmp_path / family)
    text = " ".join(text for text, _, _ in SENTENCES * 6)
    tokens = tokenize(text)
    prediction = predictor.predict(text, tokens.starts, tokens.ends)
    assert prediction.windows > 1
    for suggestion in prediction.suggestions:
        assert text[suggestion.start : suggestion.end].strip() == text[suggestion.start : suggestion.end]
