"""An OpenAI-compatible Chat Completions simulator: answers like the API, from the knowledge in the prompt, and
records what it receives. Point the ``openai`` package at it with ``OPENAI_BASE_URL={simulator.base_url}``
and any ``OPENAI_API_KEY``.

Routes:
- ``POST /v1/chat/completions``: the Chat Completions response shape (``choices``, ``usage``). The answer is
  deterministic, drawn from the last user message and the knowledge block of the system message
  (``mkt_whatsapp/ai/prompt.py``'s fenced JSON): the answer of the FAQ entry sharing the most words with the
  message, or the best-matching product's name and price, or a polite "I will check". When the last user
  message asks for a person ("nhân viên", "người thật", "human", "agent", "staff"…) and the request offers
  the ``handoff_to_human`` tool, it calls the tool instead (``finish_reason: "tool_calls"``).
  ``usage`` counts tokens with the service's own documented estimate (``mkt_whatsapp.ai.prompt.estimate_tokens``:
  ASCII characters / 3.5 + other characters, 4 per message, plus the tools' JSON), so figures are
  reproducible and close to OpenAI's ``o200k_base`` counts (a little above them). A bare model name is
  reported as OpenAI reports it, as a dated snapshot (``gpt-4o-mini`` → ``gpt-4o-mini-2024-07-18``).
- ``GET /v1/models``: the models it answers for (any name is accepted).
- ``GET /_simulator/requests``: what it has received (``DELETE`` clears it).
- ``POST /_simulator/faults``: the next ``count`` requests whose path contains ``match`` get ``status`` (with
  OpenAI's error body and a ``retry-after-ms`` header of ``retryAfterMs``, 10 by default, as OpenAI sends on
  a 429, so the client's retries are quick), after ``delaySeconds``; status 200 with a delay answers
  normally but late (a stall past the client's timeout). ``DELETE`` clears the faults.

A missing or empty bearer key is OpenAI's 401 ``invalid_api_key``; any other key is accepted.

On its own: ``python -m local.openai_simulator --port 8003`` (the tests start it in process).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

# The layer on the path for its text folding and token estimate (as local.lambdas.ensure_layer_on_path does,
# without importing SAM CLI as that module does).
_LAYER = str(Path(__file__).resolve().parents[1] / "layers" / "shared")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)

from mkt_whatsapp.ai.prompt import HANDOFF_TOOL_NAME, estimate_messages, estimate_tokens  # noqa: E402
from mkt_whatsapp.core.text import fold  # noqa: E402

COMPLETIONS_PATH = "/v1/chat/completions"
# What OpenAI reports for a bare model name: its current snapshot.
SNAPSHOTS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
}
ASKS_FOR_A_HUMAN = re.compile(
    r"\b(nhan vien|nguoi that|nguoi ban hang|gap nguoi|human|agent|staff|operator|real person|someone real)\b"
)
HANDOFF_REASON = "The customer asked to talk to a human."
FALLBACK_VI = "Dạ, em chưa có thông tin này ạ. Em sẽ kiểm tra và báo lại anh/chị ngay nhé."
FALLBACK_EN = "Thanks for your message! Let me check that and get back to you shortly."
_WORD = re.compile(r"[a-z0-9]+")
_FENCED_JSON = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False), status=status, headers=headers, content_type="application/json"
    )


def openai_error(
    status: int, message: str, error_type: str, code: str | None = None, param: str | None = None
) -> Response:
    return _json(status, {"error": {"message": message, "type": error_type, "param": param, "code": code}})


# OpenAI's error body for the statuses a fault plays.
FAULT_BODIES: dict[int, dict[str, Any]] = {
    429: {
        "message": "Rate limit reached for requests.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    502: {"message": "Bad gateway.", "type": "server_error", "param": None, "code": None},
    503: {"message": "The engine is currently overloaded.", "type": "server_error", "param": None, "code": None},
}


@dataclass
class Fault:
    match: str
    status: int
    count: int
    delay_seconds: float = 0.0  # answer this late (a timeout, for a client with a shorter one)
    retry_after_ms: int | None = 10
    body: Any = None


@dataclass
class SimulatorState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class OpenAISimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SimulatorState()
        self._server: BaseWSGIServer = make_server(host, port, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-simulator", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    @property
    def base_url(self) -> str:
        """What ``OPENAI_BASE_URL`` is set to."""
        return f"{self.url}/v1"

    def start(self) -> OpenAISimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- test hooks ------------------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 500, *, retry_after_ms: int | None = 10) -> None:
        """The next ``count`` completions answer ``status`` (500, 429…) with OpenAI's error body."""
        with self.state.lock:
            self.state.faults.append(Fault(COMPLETIONS_PATH, status, count, retry_after_ms=retry_after_ms))

    def stall_next(self, count: int, seconds: float) -> None:
        """The next ``count`` completions answer only after ``seconds``."""
        with self.state.lock:
            self.state.faults.append(Fault(COMPLETIONS_PATH, 200, count, delay_seconds=seconds))

    def reset(self) -> None:
        with self.state.lock:
            self.state.requests.clear()
            self.state.faults.clear()

    def completions(self) -> list[dict[str, Any]]:
        """The bodies of the completions requests received, oldest first."""
        with self.state.lock:
            return [r["body"] for r in self.state.requests if r["path"] == COMPLETIONS_PATH]

    # --- WSGI ------------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self._handle(request)(environ, start_response)

    def _handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_simulator/"):
            return self._control(request, path.removeprefix("/_simulator/"))
        body_text = request.get_data(as_text=True)
        try:
            body: Any = json.loads(body_text) if body_text.strip() else None
        except ValueError:
            body = body_text
        with self.state.lock:
            self.state.requests.append(
                {
                    "at": time.time(),
                    "method": request.method,
                    "path": path,
                    "authorization": request.headers.get("Authorization", ""),
                    "headers": dict(request.headers),
                    "body": body,
                }
            )
            fault = next((f for f in self.state.faults if f.match in path and f.count > 0), None)
            if fault:
                fault.count -= 1
        if fault:
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            if fault.status != 200:
                headers = {"retry-after-ms": str(fault.retry_after_ms)} if fault.retry_after_ms is not None else {}
                error = fault.body or FAULT_BODIES.get(fault.status, FAULT_BODIES[500])
                return _json(fault.status, {"error": error}, headers)
        if not request.headers.get("Authorization", "").removeprefix("Bearer ").strip():
            return openai_error(401, "You didn't provide an API key.", "invalid_request_error", code="invalid_api_key")
        if path == COMPLETIONS_PATH and request.method == "POST":
            return self._complete(body)
        if path == "/v1/models" and request.method == "GET":
            models = [{"id": name, "object": "model", "created": 0, "owned_by": "simulator"} for name in SNAPSHOTS]
            return _json(200, {"object": "list", "data": models})
        return openai_error(404, f"Invalid URL ({request.method} {path})", "invalid_request_error")

    def _complete(self, body: Any) -> Response:
        if not isinstance(body, dict):
            return openai_error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            return openai_error(400, "you must provide a model parameter", "invalid_request_error", param="model")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return openai_error(400, "'messages' must be a non-empty array.", "invalid_request_error", param="messages")
        if body.get("stream"):
            return openai_error(400, "The simulator does not stream.", "invalid_request_error", param="stream")
        system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
        said = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        tools = body.get("tools") or []
        offers_handoff = any((tool.get("function") or {}).get("name") == HANDOFF_TOOL_NAME for tool in tools)

        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
        if offers_handoff and ASKS_FOR_A_HUMAN.search(fold(said)):
            arguments = json.dumps({"reason": HANDOFF_REASON})
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {"name": HANDOFF_TOOL_NAME, "arguments": arguments},
                }
            ]
            finish_reason, completion_tokens = "tool_calls", estimate_tokens(HANDOFF_TOOL_NAME + arguments)
        else:
            message["content"] = answer(system, said)
            finish_reason, completion_tokens = "stop", estimate_tokens(message["content"])
        prompt_tokens = estimate_messages(messages) + (estimate_tokens(json.dumps(tools)) if tools else 0)
        return _json(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": SNAPSHOTS.get(model, model),
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                    "completion_tokens_details": {
                        "reasoning_tokens": 0,
                        "audio_tokens": 0,
                        "accepted_prediction_tokens": 0,
                        "rejected_prediction_tokens": 0,
                    },
                },
                "service_tier": "default",
                "system_fingerprint": "fp_simulator",
            },
        )

    def _control(self, request: Request, action: str) -> Response:
        with self.state.lock:
            if action == "requests":
                if request.method == "DELETE":
                    self.state.requests.clear()
                    return _json(200, {"cleared": True})
                return _json(200, {"requests": list(self.state.requests)})
            if action == "faults" and request.method == "POST":
                spec = request.get_json(force=True) or {}
                self.state.faults.append(
                    Fault(
                        match=str(spec.get("match", COMPLETIONS_PATH)),
                        status=int(spec.get("status", 500)),
                        count=int(spec.get("count", 1)),
                        delay_seconds=float(spec.get("delaySeconds", 0)),
                        retry_after_ms=spec.get("retryAfterMs", 10),
                        body=spec.get("body"),
                    )
                )
                return _json(200, {"queued": True})
            if action == "faults" and request.method == "DELETE":
                self.state.faults.clear()
                return _json(200, {"cleared": True})
        return _json(404, {"error": f"unknown simulator action {action}"})


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _words(text: str) -> set[str]:
    return set(_WORD.findall(fold(text)))


def _knowledge(system: str) -> dict[str, Any]:
    for block in reversed(_FENCED_JSON.findall(system)):
        try:
            data = json.loads(block)
        except ValueError:
            continue
        if isinstance(data, dict) and ("faq" in data or "products" in data):
            return data
    return {}


def _overlap(said: set[str], text: str, least: int = 2) -> float:
    """How much of ``text``'s words the customer said (0–1), ``least`` shared words at least."""
    words = _words(text)
    shared = len(said & words)
    return shared / len(words) if words and shared >= least else 0.0


def _price(product: dict[str, Any]) -> str:
    price, currency = product.get("price"), product.get("currency")
    if not isinstance(price, int | float):
        return ""
    if currency == "VND":
        return f"{price:,.0f}đ".replace(",", ".")
    return f"{price:,.2f} {currency or ''}".strip()


def answer(system: str, said: str) -> str:
    """The simulator's reply: the best-matching FAQ answer, or product, or a polite fallback."""
    knowledge = _knowledge(system)
    words = _words(said)
    faqs = [entry for entry in knowledge.get("faq", []) if isinstance(entry, dict)]
    products = [entry for entry in knowledge.get("products", []) if isinstance(entry, dict)]
    best_faq = max(faqs, key=lambda entry: _overlap(words, str(entry.get("question", ""))), default=None)
    # A product the ranking put in the prompt is named by one word often enough ("laptop nào tốt?").
    best_product = max(products, key=lambda entry: _overlap(words, str(entry.get("name", "")), 1), default=None)
    faq_score = _overlap(words, str(best_faq.get("question", ""))) if best_faq else 0.0
    product_score = _overlap(words, str(best_product.get("name", "")), 1) if best_product else 0.0
    if best_faq and faq_score >= product_score and faq_score > 0:
        return str(best_faq.get("answer", ""))
    if best_product and product_score > 0:
        return " ".join(part for part in (str(best_product.get("name", "")), _price(best_product)) if part)
    return FALLBACK_EN if "Always reply in English" in system else FALLBACK_VI


def main(argv: list[str] | None = None) -> int:
    import argparse
    import contextlib
    import logging

    parser = argparse.ArgumentParser(description="The OpenAI Chat Completions simulator on its own.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8003)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    simulator = OpenAISimulator(args.host, args.port)
    print(f"OpenAI simulator on {simulator.url} (OPENAI_BASE_URL={simulator.base_url})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        simulator._server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
