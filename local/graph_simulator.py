"""A WhatsApp Cloud (Graph) API simulator: answers like Meta, records what it receives.

Routes (any version segment, e.g. ``/v23.0``):
- ``GET /{version}/{phone-number-id}``: the number's details; needs a token that looks like Meta's
  (``EAA…``), else Meta's OAuth error 190. Non-numeric ids get Meta's error 100 (object does not exist).
- ``POST /{version}/{phone-number-id}/messages``: accepts a send, answers with a fresh ``wamid``.
- ``GET /_simulator/requests``: what it has received (``DELETE`` clears it).
- ``PUT /_simulator/phone-numbers/{id}``: set a number's details (``messagingLimit``, ``verifiedName``, …).
- ``POST /_simulator/faults``: the next ``count`` requests whose path contains ``match`` get ``status``/``body``
  (after ``delaySeconds``, to play a timeout).
- ``PUT /_simulator/latency``: answer every send ``seconds`` late, like Meta's round trip.

On its own: ``python -m local.graph_simulator --port 8002`` (the local stack and the tests start it in
process; the sender benchmark runs it as its own process, as Meta is).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

_NUMBER = re.compile(r"^/(v\d+\.\d+)/([^/]+)$")
_MESSAGES = re.compile(r"^/(v\d+\.\d+)/([^/]+)/messages$")


def _json(status: int, payload: Any) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def meta_error(
    status: int, code: int, message: str, error_type: str = "OAuthException", subcode: int | None = None
) -> Response:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code, "fbtrace_id": uuid.uuid4().hex[:22]}
    if subcode is not None:
        error["error_subcode"] = subcode
    return _json(status, {"error": error})


def new_wamid() -> str:
    return "wamid." + base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes[:8]).decode().rstrip("=")


@dataclass
class Fault:
    match: str
    status: int
    body: Any
    count: int
    delay_seconds: float = 0.0  # answer this late (a timeout, for a client with a shorter one)


@dataclass
class SimulatorState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    latency_seconds: float = 0.0  # every send answered this late, as Meta's round trip would be
    lock: threading.Lock = field(default_factory=threading.Lock)


class GraphSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SimulatorState()
        self._server: BaseWSGIServer = make_server(host, port, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="graph-simulator", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> GraphSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- WSGI ------------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self._handle(request)(environ, start_response)

    def _handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_simulator/"):
            return self._control(request, path.removeprefix("/_simulator/"))
        body_text = request.get_data(as_text=True)
        with self.state.lock:
            self.state.requests.append(
                {
                    "at": time.time(),
                    "method": request.method,
                    "path": path,
                    "query": dict(request.args),
                    "authorization": request.headers.get("Authorization", ""),
                    "body": json.loads(body_text) if body_text.strip().startswith(("{", "[")) else body_text,
                }
            )
            fault = next((f for f in self.state.faults if f.match in path and f.count > 0), None)
            if fault:
                fault.count -= 1
        if fault:
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            return _json(fault.status, fault.body)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token.startswith("EAA"):
            return meta_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if (match := _MESSAGES.match(path)) and request.method == "POST":
            if self.state.latency_seconds:
                time.sleep(self.state.latency_seconds)
            return self._send(match.group(2), body_text)
        if (match := _NUMBER.match(path)) and request.method == "GET":
            return self._phone_number(match.group(2))
        return meta_error(400, 100, f"Unknown path components: {path}", "GraphMethodException", 33)

    def _phone_number(self, phone_number_id: str) -> Response:
        if not phone_number_id.isdigit():
            return meta_error(
                400,
                100,
                f"Unsupported get request. Object with ID '{phone_number_id}' does not "
                "exist, cannot be loaded due to missing permissions, or does not support this "
                "operation.",
                "GraphMethodException",
                33,
            )
        with self.state.lock:
            custom = dict(self.state.numbers.get(phone_number_id, {}))
        return _json(
            200,
            {
                "id": phone_number_id,
                "display_phone_number": custom.get("displayPhoneNumber", f"+1 555-{phone_number_id[-4:]:0>4}"),
                "verified_name": custom.get("verifiedName", "Local Test Shop"),
                "quality_rating": custom.get("qualityRating", "GREEN"),
                "whatsapp_business_manager_messaging_limit": custom.get("messagingLimit", "TIER_2K"),
            },
        )

    def _send(self, phone_number_id: str, body_text: str) -> Response:
        try:
            body = json.loads(body_text)
        except ValueError:
            return meta_error(400, 100, "Invalid parameter", "OAuthException")
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return meta_error(400, 100, "(#100) The parameter messaging_product is required.")
        if body.get("status") == "read":  # mark-as-read
            return _json(200, {"success": True})
        recipient = str(body.get("to", ""))
        if not recipient:
            return meta_error(400, 100, "(#100) The parameter to is required.")
        return _json(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": recipient, "wa_id": recipient.lstrip("+")}],
                "messages": [{"id": new_wamid()}],
            },
        )

    def _control(self, request: Request, action: str) -> Response:
        with self.state.lock:
            if action == "requests":
                if request.method == "DELETE":
                    self.state.requests.clear()
                    return _json(200, {"cleared": True})
                return _json(200, {"requests": list(self.state.requests)})
            if action == "latency" and request.method == "PUT":
                self.state.latency_seconds = float((request.get_json(force=True) or {}).get("seconds", 0))
                return _json(200, {"latencySeconds": self.state.latency_seconds})
            if action.startswith("phone-numbers/") and request.method == "PUT":
                number = action.removeprefix("phone-numbers/")
                self.state.numbers[number] = dict(request.get_json(force=True) or {})
                return _json(200, {"id": number, **self.state.numbers[number]})
            if action == "faults" and request.method == "POST":
                spec = request.get_json(force=True) or {}
                self.state.faults.append(
                    Fault(
                        match=str(spec.get("match", "")),
                        status=int(spec.get("status", 500)),
                        body=spec.get("body", {}),
                        count=int(spec.get("count", 1)),
                        delay_seconds=float(spec.get("delaySeconds", 0)),
                    )
                )
                return _json(200, {"queued": True})
            if action == "faults" and request.method == "DELETE":
                self.state.faults.clear()
                return _json(200, {"cleared": True})
        return _json(404, {"error": f"unknown simulator action {action}"})


def main(argv: list[str] | None = None) -> int:
    import argparse
    import contextlib
    import logging

    parser = argparse.ArgumentParser(description="The WhatsApp Cloud API simulator on its own.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    simulator = GraphSimulator(args.host, args.port)
    print(f"Graph API simulator on {simulator.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        simulator._server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
