"""Python's process pools on the workloads of braid's `compare` process-pool layer:
concurrent.futures.ProcessPoolExecutor and multiprocessing.Pool, each with --workers
workers and the platform's default start method, except where a start method is named.

- submit_each: submit --tasks trivial tasks one by one, then collect every result;
- one_at_a_time: submit one task, wait for its result, --sequential times;
- map: map --map-items items in chunks of --chunksize;
- start_spawn, start_fork: make a pool with the "spawn" or "fork" start method, get one
  result per worker, shut the pool down (null where the platform lacks the method);
- submit_each_switches, one_at_a_time_switches: voluntary context switches per task of
  those two workloads on a fresh pool, this process's threads and the workers' whole lives
  together (getrusage, self and reaped children), less those of a pool that runs nothing;
  the median of three tries. A count, not seconds;
- cpu_map: count primes by trial division in --cpu-items ranges of --prime-span numbers
  from --primes-from, one range per task; under "one process", the same ranges counted
  one after another in this process, with no pool.

Prints one JSON line: {"ProcessPoolExecutor": {workload: seconds}, "multiprocessing.Pool":
{...}, "one process": {"cpu_map": seconds}}, each the median of --samples runs after
--warmups untimed ones.
"""

import argparse
import json
import multiprocessing
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor


def identity(value):
    return value


def is_prime(n):
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def primes_in_range(job):
    start, span = job
    return sum(1 for n in range(start, start + span) if is_prime(n))


def median_time(args, run):
    for _ in range(args.warmups):
        run()
    times = []
    for _ in range(max(1, args.samples)):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check(ok, what):
    if not ok:
        raise SystemExit(what)


class Executor:
    """concurrent.futures.ProcessPoolExecutor."""

    name = "ProcessPoolExecutor"

    @staticmethod
    def create(workers, context=None):
        return ProcessPoolExecutor(max_workers=workers, mp_context=context)

    @staticmethod
    def close(pool):
        pool.shutdown(wait=True)

    @staticmethod
    def submit_each(pool, n):
        futures = [pool.submit(identity, i) for i in range(n)]
        check(sum(f.result() for f in futures) == n * (n - 1) // 2, "results did not add up")

    @staticmethod
    def one(pool, i):
        return pool.submit(identity, i).result()

    @staticmethod
    def map(pool, function, items, chunksize):
        return list(pool.map(function, items, chunksize=chunksize))


class Pool:
    """multiprocessing.Pool."""

    name = "multiprocessing.Pool"

    @staticmethod
    def create(workers, context=None):
        return (context or multiprocessing).Pool(processes=workers)

    @staticmethod
    def close(pool):
        pool.close()
        pool.join()

    @staticmethod
    def submit_each(pool, n):
        results = [pool.apply_async(identity, (i,)) for i in range(n)]
        check(sum(r.get() for r in results) == n * (n - 1) // 2, "results did not add up")

    @staticmethod
    def one(pool, i):
        return pool.apply_async(identity, (i,)).get()

    @staticmethod
    def map(pool, function, items, chunksize):
        return pool.map(function, items, chunksize=chunksize)


def voluntary_switches():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_nvcsw
    return own + children


def switches_per_op(kind, args, ops, work):
    def life(run):
        before = voluntary_switches()
        pool = kind.create(args.workers)
        try:
            kind.map(pool, identity, range(args.workers * 4), 1)
            if run:
                work(pool)
        finally:
            kind.close(pool)
        return voluntary_switches() - before

    tries = sorted((life(True) - life(False)) / max(1, ops) for _ in range(3))
    return tries[1]


def measure(kind, args):
    results = {}
    pool = kind.create(args.workers)
    try:
        # Start every worker before timing, as the Rust side does.
        kind.map(pool, identity, range(args.workers * 4), 1)
        results["submit_each"] = median_time(args, lambda: kind.submit_each(pool, args.tasks))

        def one_at_a_time():
            for i in range(args.sequential):
                check(kind.one(pool, i) == i, "a result came back wrong")

        results["one_at_a_time"] = median_time(args, one_at_a_time)

        def mapped():
            out = kind.map(pool, identity, range(args.map_items), args.chunksize)
            check(sum(out) == args.map_items * (args.map_items - 1) // 2, "map did not add up")

        results["map"] = median_time(args, mapped)

        jobs = [(args.primes_from + i * args.prime_span, args.prime_span) for i in range(args.cpu_items)]
        results["cpu_map"] = median_time(args, lambda: kind.map(pool, primes_in_range, jobs, 1))
    finally:
        kind.close(pool)

    results["submit_each_switches"] = switches_per_op(
        kind, args, args.tasks, lambda pool: kind.submit_each(pool, args.tasks)
    )

    def sequential(pool):
        for i in range(args.sequential):
            check(kind.one(pool, i) == i, "a result came back wrong")

    results["one_at_a_time_switches"] = switches_per_op(kind, args, args.sequential, sequential)

    for method in ("spawn", "fork"):
        if method not in multiprocessing.get_all_start_methods():
            results["start_" + method] = None
            continue
        context = multiprocessing.get_context(method)

        def start():
            fresh = kind.create(args.workers, context)
            try:
                for i in range(args.workers):
                    kind.one(fresh, i)
            finally:
                kind.close(fresh)

        results["start_" + method] = median_time(args, start)
    return results


def one_process(args):
    jobs = [(args.primes_from + i * args.prime_span, args.prime_span) for i in range(args.cpu_items)]
    return {"cpu_map": median_time(args, lambda: [primes_in_range(job) for job in jobs])}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--sequential", type=int, default=2_000)
    parser.add_argument("--map-items", type=int, default=100_000)
    parser.add_argument("--chunksize", type=int, default=1_000)
    parser.add_argument("--cpu-items", type=int, default=16)
    parser.add_argument("--primes-from", type=int, default=1_000_000)
    parser.add_argument("--prime-span", type=int, default=20_000)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    results = {kind.name: measure(kind, args) for kind in (Executor, Pool)}
    results["one process"] = one_process(args)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
