"""Per-task overhead of Python's concurrent.futures.ThreadPoolExecutor: submit 20,000 trivial
tasks to a 2-worker pool, then collect every result. Compare with the `braid` entry of the
`threadpool/submit_join_20k` group in benches/benches/threadpool.rs (same workload).

Prints one JSON line: {"workload": ..., "tasks": ..., "per_task_us": ...} (best of 5 runs).
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

TASKS = 20_000
WORKERS = 2
RUNS = 5


def identity(value):
    return value


def one_run(executor):
    start = time.perf_counter()
    futures = [executor.submit(identity, i) for i in range(TASKS)]
    total = sum(future.result() for future in futures)
    elapsed = time.perf_counter() - start
    assert total == TASKS * (TASKS - 1) // 2
    return elapsed


def main():
    with ThreadPoolExecutor(max_workers=WORKERS) as executor:
        one_run(executor)  # warm-up: start the threads
        best = min(one_run(executor) for _ in range(RUNS))
    print(
        json.dumps(
            {
                "workload": "submit_result_20k",
                "tasks": TASKS,
                "per_task_us": round(best / TASKS * 1e6, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
