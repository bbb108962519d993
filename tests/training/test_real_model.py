"""Fine-tune the real bundled model (all-MiniLM-L6-v2) for a few steps on NCBI-disease sentences."""

import json
from pathlib import Path

import pytest

from annotation.text.formats.conll import parse_conll
from training.ml import examples as ex
from training.ml.base_model import default_base_model
from training.ml.data import Hyperparameters, TrainingDocument
from training.ml.pipeline import load_model, train

pytestmark = pytest.mark.slow  # fine-tunes the bundled model

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "ncbi_train_sample.conll"


def sample_documents() -> list[TrainingDocument]:
    sentences = [s for doc in parse_conll(SAMPLE.read_text().splitlines()) for s in doc]
    documents = []
    for index, sentence in enumerate(sentences[:50]):
        documents.append(
            TrainingDocument(
                doc_id=f"ncbi-{index}",
                tokens=[token for token, _ in sentence],
                tags=[tag for _, tag in sentence],
                is_dev=index >= 40,  # 40 training sentences, 10 dev
            )
        )
    return documents


def test_bundled_model_is_found():
    directory = Path(default_base_model())
    assert (directory / "config.json").is_file() and (directory / "tokenizer.json").is_file()


def test_fine_tune_real_model_loss_drops_and_artifacts_load(tmp_path):
    documents = sample_documents()
    hp = Hyperparameters(epochs=3, batch_size=8, learning_rate=3e-4, warmup_ratio=0.1, patience=0)
    output = tmp_path / "model"
    result = train(documents, ["Disease"], hp, base_model=default_base_model(), output_dir=output)

    snapshot = json.loads((output / "data_snapshot.json").read_text())
    assert len(snapshot["train"]) == 40 and len(snapshot["dev"]) == 10
    steps_per_epoch = -(-snapshot["train_examples"] // 8)
    assert 5 <= steps_per_epoch <= 6  # 40 sentences (a citation list may split in two), 8 per batch
    assert len(result.loss_history) == 3 * steps_per_epoch
    first, last = result.loss_history[:3], result.loss_history[-3:]
    assert sum(last) / 3 < 0.6 * (sum(first) / 3), result.loss_history
    assert result.epochs_run == 3 and len(result.dev_f1_per_epoch) == 3
    assert (output / "model.safetensors").stat().st_size > 50_000_000  # 22.6M parameters in fp32

    tokenizer, model, tags = load_model(output)
    assert tags == ["O", "B-Disease", "I-Disease"]
    assert json.loads((output / "label_map.json").read_text())["labels"] == ["Disease"]
    dev = [d for d in documents if d.is_dev]
    predicted = ex.predict_tags(model, tokenizer, [d.tokens for d in dev], tags, max_length=128)
    assert [len(p) for p in predicted] == [len(d.tokens) for d in dev]
    # The reloaded weights are the trained ones: same dev predictions as during training.
    assert result.evaluation["micro"]["f1"] == max(result.dev_f1_per_epoch)
