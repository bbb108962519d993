"""Every benchmark, one after another (`make bench`).

    nice .venv/bin/python -m bench.all [--skip-training]

The database benchmarks run in this process; the training benchmark, when present, runs
last in its own process, since it takes minutes and loads torch.
"""

import argparse
import subprocess
import sys

from bench import access_log, api, document_list, import_documents, labelling


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-training", action="store_true", help="leave out bench.training_throughput")
    args = parser.parse_args(argv)

    import_documents.main([])
    document_list.main([])
    labelling.main([])
    api.main([])
    access_log.main([])
    # Torch benchmarks each take their own process: they set thread counts and load models.
    # The soak restarts PostgreSQL under a real gunicorn: its own process too.
    modules = [
        "bench.web_memory",
        "bench.inference_latency",
        "bench.decoding",
        "bench.predict_limit",
        "bench.preannotation",
        "bench.soak",
    ]
    if not args.skip_training:
        modules.append("bench.training_throughput")
    for module in modules:
        print(f"\n## {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module]).returncode:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
