import pytest

TINY_VOCABULARY = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "patient",
    "has",
    "a",
    "of",
    "and",
    "with",
    "was",
    "given",
    "for",
    "after",
    "treated",
    "cancer",
    "breast",
    "lung",
    "asthma",
    "diabetes",
    "disease",
    "aspirin",
    "insulin",
    "surgery",
    "chemotherapy",
    ".",
    ",",
    "(",
    ")",
    "-",
    "##s",
    "##ic",
]


def build_tiny_bert(directory, vocabulary) -> str:
    """A 2-layer, 32-wide BERT and a WordPiece tokenizer over `vocabulary`, saved to `directory`."""
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocabulary) + "\n")
    # transformers 5 takes the WordPiece file as `vocab` (4.x called it `vocab_file`).
    tokenizer = BertTokenizerFast(vocab=str(vocab_file))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A tiny BERT that trains in seconds."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), TINY_VOCABULARY)
