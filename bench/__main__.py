"""``make bench``: cold start per function and AWS calls per request, written to bench/results/latest.json."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from bench import aws_calls, coldstart

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    started = time.time()
    cold = coldstart.measure()
    calls = aws_calls.measure()
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "cold_start": cold,
        "aws_calls_per_request": calls,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"\nCold start (import of the handler module, median of {coldstart.RUNS}, {cold['environment']})")
    print(f"  floor (boto3 + APIGatewayHttpResolver): {cold['floor_ms']} ms; target ratio <= {cold['target_ratio']}")
    for name, figures in cold["functions"].items():
        mark = "ok " if figures["ratio"] <= cold["target_ratio"] else "OVER"
        print(f"  {mark} {name:24} {figures['import_ms']:7.1f} ms  {figures['ratio']:.2f}x")
    print("\nAWS calls per request (warm)")
    for label, figures in calls.items():
        target = f"  (target <= {figures['target']})" if "target" in figures else ""
        print(f"  {label:28} {figures['aws_calls']}  {figures['by_operation']}{target}")
    print(f"\nwritten to {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
