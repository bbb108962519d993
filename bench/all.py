"""Every benchmark, one after another (`make bench`).

    nice .venv/bin/python -m bench.all [--skip-training]

The database benchmarks run in this process; the training benchmark, when present, runs
last in its own process, since it takes minutes and loads torch.
"""

import argparse
import importlib.util
import subprocess
import sys

from bench import document_list, import_documents


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-training", action="store_true", help="leave out bench.training_throughput")
    args = parser.parse_args(argv)

    import_documents.main([])
    document_list.main([])
    if args.skip_training or importlib.util.find_spec("bench.training_throughput") is None:
        return 0
    print("\n## Training throughput", flush=True)
    return subprocess.run([sys.executable, "-m", "bench.training_throughput"]).returncode


if __name__ == "__main__":
    sys.exit(main())
