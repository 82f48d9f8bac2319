#!/usr/bin/env python3
"""Check the issue-8 targets against `keyward bench --json` output.

Usage: targets.py ONE_THREAD.json [TWO_THREADS.json ...]

The first file must be a one-thread run with --compare (module A = Keyward, B = SoftHSM).
Every further file is a two-thread run; the scaling target is checked on each. Prints a
Markdown table: target, the row it is read from, the measured figure, met or not met.
"""
import json
import sys


def rows(path):
    with open(path) as f:
        report = json.load(f)
    return report, {r["id"]: r for r in report["rows"]}


def rate(outcome):
    if outcome and outcome.get("status") == "measured":
        return outcome["ops_per_sec"]
    return None


def line(target, row, figure, met):
    verdict = "met" if met else "**not met**"
    return f"| {target} | `{row}` | {figure} | {verdict} |"


def ratio_target(r, row_id, at_least, what):
    row = r.get(row_id)
    ratio = row and row.get("ratio_a_b")
    if ratio is None:
        return line(what, row_id, "not measured", False)
    return line(what, row_id, f"{ratio:.2f}×", ratio >= at_least)


def ceiling_target(r, row_id, at_least, what):
    row = r.get(row_id)
    pct = row and row.get("a_pct_of_ceiling")
    if pct is None:
        return line(what, row_id, "not measured", False)
    a, c = rate(row["a"]), rate(row["ceiling"])
    return line(what, row_id, f"{pct:.0f}% ({a:,.0f} of {c:,.0f} ops/s)", pct >= at_least)


def overhead_target(r, row_id, at_most, what):
    row = r.get(row_id)
    over = row and row.get("a_overhead_us")
    if over is None:
        return line(what, row_id, "not measured", False)
    a, c = row["a"]["mean_us"], row["ceiling"]["mean_us"]
    return line(what, row_id, f"{over:.2f} µs ({a:.2f} − {c:.2f})", over <= at_most)


def scaling_target(one, two, row_id, at_least, name):
    r1, r2 = one.get(row_id), two.get(row_id)
    a1, a2 = rate(r1 and r1["a"]), rate(r2 and r2["a"])
    what = f"2 threads ≥ {at_least}× one thread: {name}"
    if not a1 or not a2:
        return line(what, row_id, "not measured", False)
    x = a2 / a1
    return line(what, row_id, f"{x:.2f}× ({a2:,.0f} vs {a1:,.0f} ops/s)", x >= at_least)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    report, one = rows(argv[1])
    if report["settings"]["threads"] != 1:
        sys.exit(f"{argv[1]} is not a one-thread run")
    out = [
        "| target | row | measured | |",
        "|---|---|---|---|",
        ratio_target(one, "rsa2048-pkcs1-sign/token", 2.5, "vs SoftHSM: RSA-2048 sign ≥ 2.5×"),
        ratio_target(one, "p256-prehashed-sign/token", 3.0,
                     "vs SoftHSM: ECDSA P-256 sign ≥ 3× (CKM_ECDSA: SoftHSM 2.6 has no CKM_ECDSA_SHA256)"),
        ratio_target(one, "aes-gcm-16/token", 20.0, "vs SoftHSM: AES-256-GCM 16 B ≥ 20×"),
        ratio_target(one, "find-id-10k", 100.0, "vs SoftHSM: C_FindObjects by CKA_ID among 10,000 ≥ 100×"),
        ceiling_target(one, "rsa2048-pkcs1-sign/token", 90.0, "vs aws-lc-rs: RSA-2048 sign ≥ 90%"),
        ceiling_target(one, "p256-sign/token", 75.0, "vs aws-lc-rs: ECDSA P-256 sign ≥ 75%"),
        overhead_target(one, "hmac-sha256-64/token", 1.0, "per-call overhead HMAC-SHA256 64 B ≤ 1 µs"),
        overhead_target(one, "aes-gcm-16/token", 1.0, "per-call overhead AES-256-GCM 16 B ≤ 1 µs"),
    ]
    for path in argv[2:]:
        report2, two = rows(path)
        threads = report2["settings"]["threads"]
        if threads != 2:
            sys.exit(f"{path} is a {threads}-thread run, not a two-thread one")
        out.append(scaling_target(one, two, "rsa2048-pkcs1-sign/token", 1.8, "RSA-2048 sign"))
        out.append(scaling_target(one, two, "p256-sign/token", 1.8, "ECDSA P-256 sign"))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv)
