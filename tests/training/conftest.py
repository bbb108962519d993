import pytest

TINY_VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "patient", "has", "a", "of", "and", "with", "was", "given", "for", "after", "treated",
    "cancer", "breast", "lung", "asthma", "diabetes", "disease", "aspirin", "insulin", "surgery",
    "chemotherapy", ".", ",", "(", ")", "-", "##s", "##ic",
]


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A 2-layer, 32-wide BERT with a small WordPiece vocabulary: trains in seconds."""
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-bert")
    vocabulary = directory / "vocab.txt"
    vocabulary.write_text("\n".join(TINY_VOCABULARY) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(vocabulary))
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
