"""Run the template's Lambda handlers in this process, the way the Lambda service would call them.

Each function is loaded once from its CodeUri (its own module name, so every function's ``app.py`` can
coexist) with the shared layer on ``sys.path``, like a warm container. A lock per function gives the
one-event-at-a-time behaviour of a Lambda container.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from local import terminal
from local.template import ROOT, FunctionSpec

log = logging.getLogger("local.lambdas")
LAYER_PATH = ROOT / "layers" / "shared"


def ensure_layer_on_path() -> None:
    if str(LAYER_PATH) not in sys.path:
        sys.path.insert(0, str(LAYER_PATH))


def forget_container_state(*, clients: bool = True) -> None:
    """Forget what a warm container keeps (settings, clients, the time-limited caches, send slots), so
    the next invocation in this process reads the current environment, as a cold container would.
    ``clients=False`` keeps the boto3 session and its clients (the same emulator, endpoint and
    credentials): a new session parses the services' JSON models again, about 0.1 s each time."""
    ensure_layer_on_path()
    from mkt_whatsapp.core import aws, cache
    from mkt_whatsapp.core.settings import get_settings
    from mkt_whatsapp.messaging import pacing
    from mkt_whatsapp.store.table import get_table
    from mkt_whatsapp.whatsapp import graph

    get_settings.cache_clear()
    get_table.cache_clear()
    graph._http.cache_clear()
    if clients:
        aws.reset()
    pacing.reset()
    cache.forget_all()
    if "mkt_whatsapp.ai.provider" in sys.modules:  # its client holds the key and base URL it was made with
        sys.modules["mkt_whatsapp.ai.provider"].reset()


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context object that Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """The handler raised: Lambda reports ``errorType``/``errorMessage`` (an Unhandled function error)."""

    def __init__(self, function_name: str, error: BaseException) -> None:
        super().__init__(f"{function_name}: {type(error).__name__}: {error}")
        self.payload = {
            "errorType": type(error).__name__,
            "errorMessage": str(error),
            "stackTrace": traceback.format_exception(error),
        }


class LocalLambdas:
    def __init__(self, specs: dict[str, FunctionSpec]) -> None:
        ensure_layer_on_path()
        self.specs = specs
        self._modules: dict[str, ModuleType] = {}
        self._locks = {name: threading.Lock() for name in specs}
        self._load_lock = threading.Lock()

    def module(self, name: str) -> ModuleType:
        with self._load_lock:
            if name not in self._modules:
                spec = self.specs[name]
                module_name = f"lambda_{name}"
                loader_spec = importlib.util.spec_from_file_location(module_name, spec.module_file)
                if loader_spec is None or loader_spec.loader is None:
                    raise ImportError(f"cannot load {spec.module_file}")
                module = importlib.util.module_from_spec(loader_spec)
                sys.modules[module_name] = module
                loader_spec.loader.exec_module(module)
                self._modules[name] = module
            return self._modules[name]

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        """Call the function's handler with ``event``; raises :class:`FunctionError` if it raises."""
        if name not in self.specs:
            raise KeyError(f"no function {name} in template.yaml")
        handler = getattr(self.module(name), self.specs[name].handler_name)
        with self._locks[name]:
            try:
                return handler(
                    event, FakeLambdaContext(function_name=name, timeout_seconds=self.specs[name].timeout_seconds)
                )
            except Exception as error:
                raise FunctionError(name, error) from error
            finally:
                terminal.after_invocation()


class SamRunner:
    """The lambda runner SAM's LocalApigwService calls: it writes the handler's result to ``stdout``."""

    def __init__(self, lambdas: LocalLambdas) -> None:
        self.lambdas = lambdas

    def is_debugging(self) -> bool:
        return False

    def invoke(self, function_identifier: str, event: str, stdout: Any = None, stderr: Any = None, **_: Any) -> None:
        started = time.monotonic()
        request = json.loads(event)
        try:
            result: Any = self.lambdas.invoke(function_identifier, request)
            # API Gateway's reading of a payload 2.0 answer: no statusCode means 200.
            status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        except FunctionError as failure:
            result, status = failure.payload, 502
            log.error("%s", failure)
            if stderr is not None:
                stderr.write_str("".join(failure.payload["stackTrace"]))
        terminal.report_request(request, status, started)
        if stdout is not None:
            stdout.write_str(json.dumps(result))
