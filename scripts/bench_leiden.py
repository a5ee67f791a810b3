"""Times igraph's Leiden on the edge list written by the tessera-graph Leiden benchmark.

Usage: python bench_leiden.py EDGES [RUNS]   (RUNS defaults to 5: seeds 42, 43, ...)
EDGES: first line "n m", then one "u v weight" line per undirected edge.
Prints one line per run and a final "RESULT igraph_mean_s=... igraph_best_s=... igraph_modularity=..."
line.
"""

import random
import sys
import time

import igraph as ig


def main() -> None:
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with open(path) as f:
        n, _m = map(int, f.readline().split())
        edges, weights = [], []
        for line in f:
            u, v, w = line.split()
            edges.append((int(u), int(v)))
            weights.append(float(w))
    g = ig.Graph(n=n, edges=edges)
    g.es["weight"] = weights
    print(f"igraph {ig.__version__}: {g.vcount()} nodes, {g.ecount()} edges")
    times, mods = [], []
    for run in range(runs):
        random.seed(42 + run)
        t = time.perf_counter()
        part = g.community_leiden(
            objective_function="modularity", weights="weight", resolution=1, n_iterations=-1
        )
        secs = time.perf_counter() - t
        q = g.modularity(part.membership, weights="weight")
        print(f"igraph seed {42 + run}: {secs:.4f} s, modularity {q:.6f}, {len(part)} communities")
        times.append(secs)
        mods.append(q)
    print(
        f"RESULT igraph_mean_s={sum(times) / len(times):.6f} igraph_best_s={min(times):.6f} "
        f"igraph_modularity={sum(mods) / len(mods):.6f}"
    )


if __name__ == "__main__":
    main()
