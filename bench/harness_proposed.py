"""`harness run` with the two start-up changes proposed to the local executor (for bench_overhead.py).

    python bench/harness_proposed.py run SUITE [harness run options]

1. Preload what every run imports anyway: constructing a torch optimizer imports
   ``torch._dynamo`` (+ sympy, ~1.4 CPU-s) and the first MLflow SQLite call imports
   ``mlflow.store.tracking.sqlalchemy_store`` (~1 CPU-s); today each run process pays both.
2. Start the fork server first, so its preload overlaps the driver's own start-up
   (suite validation imports, MLflow store creation) instead of following it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import sys

from harness.executors import local

EXTRA_PRELOAD = ["torch._dynamo", "mlflow.store.tracking.sqlalchemy_store"]

if __name__ == "__main__":
    local.PRELOAD = [*local.PRELOAD, *EXTRA_PRELOAD]
    multiprocessing.set_forkserver_preload(local.PRELOAD)
    multiprocessing.forkserver.ensure_running()
    from harness.cli import main

    sys.exit(main(sys.argv[1:]))
