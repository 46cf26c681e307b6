"""Cold start: the import time of each function's handler module in a fresh interpreter (median of 5),
beside the floor — a module importing only boto3 and Powertools' APIGatewayHttpResolver — as a ratio.

Measured in a Lambda-like environment: ``python -S`` (no site-packages) with only what a deployed
function sees on its path — the layer's pinned requirements and the runtime's boto3, installed with
``pip install --target`` into ``.bench/lambda-env`` — so that packages of the dev venv that Lambda would not
have (aws-sam-cli's click and rich, awscrt, pyOpenSSL) neither slow the handlers nor pad the floor."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from local import template as tpl

ROOT = tpl.ROOT
RUNS = 5
TARGET_RATIO = 1.3
LAMBDA_ENV = ROOT / ".bench" / "lambda-env"
RUNTIME_BOTO3 = ("boto3==1.43.108", "botocore==1.43.127")  # as pinned in requirements-dev.txt


def ensure_lambda_env() -> Path:
    requirements = ROOT / "layers" / "shared" / "requirements.txt"
    stamp = LAMBDA_ENV / ".requirements"
    wanted = requirements.read_text() + "\n".join(RUNTIME_BOTO3)
    if not stamp.is_file() or stamp.read_text() != wanted:
        if LAMBDA_ENV.exists():
            import shutil

            shutil.rmtree(LAMBDA_ENV)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--target",
                str(LAMBDA_ENV),
                "-r",
                str(requirements),
                *RUNTIME_BOTO3,
            ],
            check=True,
        )
        stamp.write_text(wanted)
    return LAMBDA_ENV


_PROBE = """
import sys, time, importlib.util
sys.path[:0] = [{env!r}, {layer!r}]
start = time.perf_counter()
{body}
print(time.perf_counter() - start)
"""

FLOOR_BODY = "import boto3\nfrom aws_lambda_powertools.event_handler import APIGatewayHttpResolver"


def _handler_body(module_file: Path) -> str:
    return (
        f"spec = importlib.util.spec_from_file_location('app', {str(module_file)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)"
    )


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "mkt-whatsapp-service",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            "TABLE_NAME": "bench",
        }
    )
    return env


def time_import(body: str) -> float:
    """Median seconds of ``body`` in ``RUNS`` fresh interpreters (bytecode already compiled)."""
    code = _PROBE.format(env=str(ensure_lambda_env()), layer=str(ROOT / "layers" / "shared"), body=body)
    samples = []
    for _ in range(RUNS + 1):
        result = subprocess.run(
            [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True, env=_environment(), cwd=ROOT
        )
        samples.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(samples[1:])  # the first run warms the bytecode cache


def measure() -> dict[str, object]:
    floor = time_import(FLOOR_BODY)
    functions = {}
    for name, spec in sorted(tpl.functions().items()):
        seconds = time_import(_handler_body(spec.module_file))
        functions[name] = {"import_ms": round(seconds * 1000, 1), "ratio": round(seconds / floor, 2)}
    return {
        "environment": "python -S with only the layer's requirements and boto3 on sys.path",
        "floor_ms": round(floor * 1000, 1),
        "target_ratio": TARGET_RATIO,
        "functions": functions,
        "all_within_target": all(f["ratio"] <= TARGET_RATIO for f in functions.values()),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
