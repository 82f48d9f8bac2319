#!/usr/bin/env python3
"""Spread of the issue-8 target figures over repeated runs (docs/bench/repeat.sh).

Usage: spread.py ONE_THREAD.json... -- TWO_THREADS.json...
Runs are paired in order (run i on one thread with run i on two) for the scaling figures.
Prints a Markdown table: figure, min, median, max, runs.
"""
import json
import statistics
import sys


def load(path):
    with open(path) as f:
        return {r["id"]: r for r in json.load(f)["rows"]}


def rate(row):
    a = row["a"] if row else None
    return a["ops_per_sec"] if a and a.get("status") == "measured" else None


def figures(one, two):
    """(name, value) pairs for one pair of runs."""
    out = []
    for row_id, name in [
        ("rsa2048-pkcs1-sign/token", "RSA-2048 sign, Keyward ÷ SoftHSM"),
        ("p256-prehashed-sign/token", "P-256 sign (CKM_ECDSA), Keyward ÷ SoftHSM"),
        ("aes-gcm-16/token", "AES-GCM 16 B, Keyward ÷ SoftHSM"),
    ]:
        out.append((name, "×", one.get(row_id, {}).get("ratio_a_b")))
    for row_id, name in [
        ("rsa2048-pkcs1-sign/token", "RSA-2048 sign, % of aws-lc-rs"),
        ("p256-sign/token", "P-256 sign, % of aws-lc-rs"),
    ]:
        out.append((name, "%", one.get(row_id, {}).get("a_pct_of_ceiling")))
    for row_id, name in [
        ("hmac-sha256-64/token", "HMAC 64 B overhead, µs"),
        ("aes-gcm-16/token", "GCM 16 B overhead, µs"),
    ]:
        out.append((name, "µs", one.get(row_id, {}).get("a_overhead_us")))
    for row_id, name in [
        ("rsa2048-pkcs1-sign/token", "RSA-2048 sign, 2 threads ÷ 1"),
        ("p256-sign/token", "P-256 sign, 2 threads ÷ 1"),
    ]:
        r1, r2 = rate(one.get(row_id)), rate(two.get(row_id)) if two else None
        out.append((name, "×", r2 / r1 if r1 and r2 else None))
    return out


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    cut = argv.index("--")
    ones = [load(p) for p in argv[1:cut]]
    twos = [load(p) for p in argv[cut + 1:]]
    table = {}
    for i, one in enumerate(ones):
        two = twos[i] if i < len(twos) else None
        for name, unit, value in figures(one, two):
            table.setdefault((name, unit), []).append(value)
    print("| figure | min | median | max | runs |")
    print("|---|---:|---:|---:|---:|")
    for (name, unit), values in table.items():
        vs = [v for v in values if v is not None]
        if not vs:
            print(f"| {name} | – | – | – | 0 |")
            continue
        fmt = (lambda v: f"{v:.0f}%") if unit == "%" else (
            (lambda v: f"{v:.2f}") if unit == "µs" else (lambda v: f"{v:.2f}×"))
        print(f"| {name} | {fmt(min(vs))} | {fmt(statistics.median(vs))} | "
              f"{fmt(max(vs))} | {len(vs)} |")


if __name__ == "__main__":
    main(sys.argv)
