#!/usr/bin/env python3
"""Count-model reference points for bits/char on a text8-form corpus.

What a model that knows only local character statistics (counted on the
train split, smoothed by back-off) scores on the valid split, in the same
L-symbol chunks the trainer evaluates:
- any-order, +-1: each position is predicted, in a random order, from
  whichever of its two neighbours are already revealed;
- any-order, +-2: from the revealed ones among the four nearest;
- left to right, trigram: from the two symbols before it.
They say how far a model at a given step is from merely knowing local
statistics, for AR and any-order objectives alike. --train-chars N counts
only the first N train characters: the data a run of S steps at batch B
sees is S*B*L, so the bounds can be set against a run's data budget.

    python3 experiments/count-model-bounds/bounds.py data/fortunes.txt [L] [--train-chars N]
"""
import argparse
import itertools
import math
import random
import sys
from collections import Counter

ALPHABET = 27


def main(path, length, train_chars):
    text = open(path).read()
    n = len(text)
    train, valid = text[: n * 90 // 100], text[n * 90 // 100: n * 95 // 100]
    if train_chars is not None:
        if not 5 <= train_chars <= len(train):
            sys.exit(f"--train-chars {train_chars}: the train split of {path} "
                     f"holds {len(train)} characters (at least 5 needed)")
        train = train[:train_chars]
    offsets = [-2, -1, 1, 2]
    m = len(train)
    center = train[2: m - 2]

    def shifted(o):  # index p gives train[p + 2 + o]
        return train[2 + o: m - 2 + o]

    counts, totals = {}, {}
    patterns = [s for r in range(5) for s in itertools.combinations(offsets, r)]
    for pattern in patterns:
        cols = [shifted(o) for o in pattern]
        if pattern:
            counts[pattern] = Counter(zip(*cols, center))
            totals[pattern] = Counter(zip(*cols))
        else:
            counts[pattern] = Counter(center)
            totals[pattern] = len(center)

    def prob(pattern, values, c):
        # Interpolated back-off: drop the farthest offset first.
        if not pattern:
            return (counts[()][c] + 1) / (totals[()] + ALPHABET)
        far = max(pattern, key=lambda o: (abs(o), o))
        rest = tuple(o for o in pattern if o != far)
        rest_values = tuple(v for o, v in zip(pattern, values) if o != far)
        lower = prob(rest, rest_values, c)
        return (counts[pattern][values + (c,)] + 2 * lower) / (totals[pattern][values] + 2)

    rng = random.Random(0)
    bits = {"any-order +-1": 0.0, "any-order +-2": 0.0, "left to right, trigram": 0.0}
    count = 0
    for start in range(0, len(valid) - length + 1, length):
        x = valid[start: start + length]
        order = list(range(length))
        rng.shuffle(order)
        seen = set()
        for p in order:
            for name, window in (("any-order +-1", [-1, 1]), ("any-order +-2", offsets)):
                pattern = tuple(o for o in window if 0 <= p + o < length and p + o in seen)
                values = tuple(x[p + o] for o in pattern)
                bits[name] -= math.log2(prob(pattern, values, x[p]))
            seen.add(p)
        for p in range(length):
            pattern = tuple(o for o in (-2, -1) if p + o >= 0)
            values = tuple(x[p + o] for o in pattern)
            bits["left to right, trigram"] -= math.log2(prob(pattern, values, x[p]))
        count += length
    for name, total in bits.items():
        print(f"{name}: {total / count:.3f} bits/char")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="text8-form file")
    parser.add_argument("length", nargs="?", type=int, default=64,
                        help="chunk length L (default 64)")
    parser.add_argument("--train-chars", type=int,
                        help="count only the first N train characters")
    args = parser.parse_args()
    main(args.corpus, args.length, args.train_chars)
