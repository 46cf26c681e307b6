"""Let moto's Step Functions interpreter run Lambda tasks with our in-process handlers (no Docker).

moto's ASL interpreter asks ``lambda_eval_utils.boto_client_for`` for a Lambda client and calls
``invoke``; we hand it a client that runs the named function from template.yaml in this process.
That module-level name is moto's internal API, so moto is pinned in requirements-dev.txt.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from local import terminal
from local.lambdas import FunctionError, LocalLambdas


class InProcessLambdaClient:
    def __init__(self, lambdas: LocalLambdas, names_by_arn: dict[str, str]) -> None:
        self.lambdas = lambdas
        self.names_by_arn = names_by_arn

    def _name(self, function_name: str) -> str:
        if function_name in self.lambdas.specs:
            return function_name
        base = function_name.split(":function:")[-1].split(":")[0] if ":function:" in function_name else function_name
        return self.names_by_arn.get(function_name) or self.names_by_arn.get(base) or base

    def invoke(self, FunctionName: str, Payload: Any = None, **_: Any) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if isinstance(Payload, bytes | bytearray):
            event = json.loads(Payload or b"{}")
        elif isinstance(Payload, str):
            event = json.loads(Payload or "{}")
        else:
            event = Payload if Payload is not None else {}
        name, started = self._name(FunctionName), time.monotonic()
        try:
            result = self.lambdas.invoke(name, event)
        except FunctionError as error:
            terminal.report_task(
                name, event, None, f"{error.payload['errorType']}: {error.payload['errorMessage']}", started
            )
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(error.payload).encode()),
            }
        terminal.report_task(name, event, result, None, started)
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode()), "ExecutedVersion": "$LATEST"}


_ORIGINAL = lambda_eval_utils.boto_client_for
_ORIGINAL_STOP = ExecutionWorker.stop
STOP_WAIT_SECONDS = 2.0


def _stop_once_started(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
    """moto 5.2.5 builds an execution's environment in the execution's own thread, so a StopExecution right
    after its StartExecution can find none and raise AttributeError (a 500 of the API that stopped it), where
    AWS stops an execution at any moment. Wait briefly for the environment; an execution that still has
    none has run no state, and its record is stopped by moto's backend all the same."""
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while getattr(self, "env", None) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if getattr(self, "env", None) is not None:
        _ORIGINAL_STOP(self, stop_date, error, cause)


def install(lambdas: LocalLambdas, names_by_arn: dict[str, str]) -> None:
    """Route moto's Lambda tasks to ``lambdas`` (installing again replaces the previous routing)."""
    client = InProcessLambdaClient(lambdas, names_by_arn)
    original = _ORIGINAL

    def boto_client_for(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("service") == "lambda" or (args and args[0] == "lambda"):
            return client
        return original(*args, **kwargs)

    lambda_eval_utils.boto_client_for = boto_client_for
    ExecutionWorker.stop = _stop_once_started  # type: ignore[method-assign]
