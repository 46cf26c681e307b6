"""``make dev``: the whole service on this machine, no AWS account and no Docker.

- an AWS emulator: moto's server, in this process, with Step Functions execution switched on, and the
  template's table, queues, key and secrets created from template.yaml's own definitions;
- SAM's own local API Gateway (HTTP API v2 events) on ``127.0.0.1:$PORT`` routing template.yaml's routes
  to the same Lambda handlers, run in this process; on the same port, the path of a function URL (Meta's
  webhooks: output ``WebhookUrl``) gets the function-URL events Lambda builds (local/function_urls.py);
- workers that deliver SQS messages to the consumer functions the template wires to queues, and the
  table's stream to the function the template wires to it (local/stream_worker.py);
- Step Functions Lambda tasks run by the in-process handlers;
- a WhatsApp Graph API simulator, unless ``GRAPH_API_BASE_URL`` is set;
- an OpenAI-compatible simulator for the AI agents, unless ``OPENAI_BASE_URL`` is set (then
  ``OPENAI_API_KEY`` is used with it).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from local import apigw_seams, defaults, function_urls, stepfunctions, terminal
from local import template as tpl
from local.graph_simulator import GraphSimulator
from local.lambdas import LocalLambdas, SamRunner
from local.sqs_worker import EventSourceMapping, SqsPoller
from local.stream_worker import StreamPoller, stream_mapping

REGION = "us-east-1"
STACK_NAME = "mkt-whatsapp-local"
ACCOUNT_ID = "123456789012"
log = logging.getLogger("local.stack")
POLLER_STOP_SECONDS = 2.0

# Environment values the handlers read as plain values in the local stack (deployed stacks use secrets), or
# that replace template.yaml's own when set (a campaign's page and poll, for a test that cannot wait 30 s).
_PASS_THROUGH = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "RATE_LIMIT_PER_MINUTE",
    "ANALYTICS_RATE_LIMIT_PER_MINUTE",
    "SEND_RATE_PER_SECOND",
    "CAMPAIGN_PAGE_SIZE",
    "CAMPAIGN_POLL_SECONDS",
)


@dataclass
class LocalStack:
    port: int = 3000
    host: str = "127.0.0.1"
    moto_port: int = 0
    graph_api_base_url: str = ""
    openai_base_url: str = ""
    components: list[Any] = field(default_factory=list)
    pollers: list[SqsPoller | StreamPoller] = field(default_factory=list)
    physical: dict[str, str] = field(default_factory=dict)
    simulator: GraphSimulator | None = None  # the stack's own (none when GRAPH_API_BASE_URL names another)

    def __post_init__(self) -> None:
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1/whatsapp"

    @property
    def webhook_url(self) -> str:
        """Where Meta's webhooks go: the webhooks function's URL (output WebhookUrl), on this port."""
        [path] = [path for path, function in function_urls.mounts().items() if function == "WebhooksFunction"]
        return f"{self.url}{path}"

    # --- start ------------------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        os.environ.setdefault("SAM_CLI_TELEMETRY", "0")
        # The API's port is taken first: the emulator and the simulators then take ports of their own
        # (port 0), never the one the caller asked for.
        self._api_socket = socket.create_server((self.host, self.port))
        self.port = self._api_socket.getsockname()[1]
        self._start_emulator()
        self._configure_functions()
        self.lambdas = LocalLambdas(tpl.functions())
        stepfunctions.install(self.lambdas, {name: name for name in self.lambdas.specs})
        self._start_pollers()
        self._start_api()
        return self

    def _start_emulator(self) -> None:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        from local import moto_seams

        moto_seams.install()  # transactions that copy the items they touch, not the whole table
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.aws_endpoint = f"http://{host}:{port}"
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.aws_endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        self.components.append(self.moto)

        import boto3

        self.session = boto3.session.Session(region_name=REGION)
        self.physical = tpl.deploy_resources(
            self.session,
            STACK_NAME,
            secret_values={
                "JwtSecret": defaults.value("JWT_SECRET"),
                "MetaAppSecret": defaults.value("META_APP_SECRET"),
                "WebhookVerifyToken": defaults.value("WEBHOOK_VERIFY_TOKEN"),
            },
        )
        self.physical.update(tpl.deploy_state_machines(self.session, STACK_NAME, REGION, ACCOUNT_ID))

    def _arns(self) -> dict[str, str]:
        arns: dict[str, str] = {}
        for logical_id, resource in tpl.resources().items():
            physical = self.physical.get(logical_id, "")
            kind = resource["Type"]
            if kind == "AWS::DynamoDB::Table":
                arns[logical_id] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{physical}"
            elif kind == "AWS::SQS::Queue":
                arns[logical_id] = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{physical.rsplit('/', 1)[-1]}"
            elif kind == "AWS::KMS::Key":
                arns[logical_id] = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{physical}"
            elif physical:
                arns[logical_id] = physical
        return arns

    def _configure_functions(self) -> None:
        if not self.graph_api_base_url:
            simulator = GraphSimulator(host="127.0.0.1").start()
            # Template changes and message statuses made on the simulator (POST /_simulator/templates/{waba},
            # /_simulator/statuses) reach this stack's webhooks as Meta's would, signed with its app secret.
            simulator.state.webhook_url = self.webhook_url
            simulator.state.app_secret = defaults.value("META_APP_SECRET")
            self.components.append(simulator)
            self.graph_api_base_url = simulator.url
            self.simulator = simulator
        if not self.openai_base_url:
            from local.openai_simulator import OpenAISimulator

            openai = OpenAISimulator(host="127.0.0.1").start()
            self.components.append(openai)
            self.openai_base_url = openai.base_url
            os.environ.setdefault("OPENAI_API_KEY", "sk-local-simulator")
        parameters = tpl.parameter_defaults()
        arns = self._arns()
        environment: dict[str, str] = {}
        for spec in tpl.functions().values():
            for name, value in spec.environment.items():
                environment[name] = tpl.resolve(value, self.physical, parameters, arns)
        environment.update({name: defaults.value(name) for name in defaults.LOCAL_DEFAULTS})
        environment["GRAPH_API_BASE_URL"] = self.graph_api_base_url
        environment["OPENAI_BASE_URL"] = self.openai_base_url
        environment["OPENAI_API_KEY_SECRET_ID"] = ""  # the key is a plain value locally (OPENAI_API_KEY)
        # Flows wait 1/100 of their seconds locally (a day's question timeout in about 15 minutes, an hour's
        # in 36 s); FLOW_TIME_SCALE=1 waits for real.
        environment["FLOW_TIME_SCALE"] = os.environ.get("FLOW_TIME_SCALE") or "0.01"
        for name in _PASS_THROUGH:
            if os.environ.get(name):
                environment[name] = os.environ[name]
        environment.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MktWhatsApp")
        environment["POWERTOOLS_DEV"] = os.environ.get("POWERTOOLS_DEV", "false")
        os.environ.update(environment)
        self.environment = environment

    def _start_pollers(self) -> None:
        sqs = self.session.client("sqs")
        arns = self._arns()
        for spec in self.lambdas.specs.values():
            for event in spec.events.values():
                if event.get("Type") == "DynamoDB":
                    self._start_stream_poller(spec.logical_id, event["Properties"])
                    continue
                if event.get("Type") != "SQS":
                    continue
                props = event["Properties"]
                queue = props["Queue"]
                logical_id = queue["Fn::GetAtt"][0] if isinstance(queue, dict) else str(queue)
                mapping = EventSourceMapping(
                    function=spec.logical_id,
                    queue_url=self.physical[logical_id],
                    queue_arn=arns[logical_id],
                    batch_size=int(props.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                )
                self.pollers.append(SqsPoller(self.lambdas, mapping, sqs, REGION).start())

    def _start_stream_poller(self, function: str, properties: dict[str, Any]) -> None:
        stream = properties["Stream"]
        target = stream["Fn::GetAtt"] if isinstance(stream, dict) else str(stream).split(".")
        logical_id = target[0] if isinstance(target, list) else str(target).split(".")[0]
        mapping = stream_mapping(function, self.physical[logical_id], properties)
        poller = StreamPoller(
            self.lambdas, mapping, self.session.client("dynamodb"), self.session.client("dynamodbstreams"), REGION
        )
        self.pollers.append(poller.start())

    def _start_api(self) -> None:
        from samcli.lib.providers.api_provider import ApiProvider
        from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
        from samcli.local.apigw.local_apigw_service import LocalApigwService
        from werkzeug.serving import make_server

        apigw_seams.install()
        stacks, _ = SamLocalStackProvider.get_stacks(str(tpl.TEMPLATE))
        api = ApiProvider(stacks).api
        service = LocalApigwService(api, SamRunner(self.lambdas), port=self.port, host=self.host)
        service.create()
        function_urls.install(service._app, self.lambdas)
        if self.simulator is not None:
            service._app.wsgi_app = SimulatorControls(service._app.wsgi_app, self.simulator)
        self.http = make_server(self.host, self.port, service._app, threaded=True, fd=self._api_socket.fileno())
        self.port = self.http.port
        threading.Thread(target=self.http.serve_forever, name="api-gateway", daemon=True).start()

    # --- stop -------------------------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        # Every poller at once, and a batch in flight is not waited for past POLLER_STOP_SECONDS: the
        # emulator's state ends with this process, so finishing the batch would keep nothing, and a batch
        # of a big delivery takes seconds (Ctrl-C stops the stack within 10 s, even under load).
        for poller in self.pollers:
            poller.request_stop()
        deadline = time.monotonic() + POLLER_STOP_SECONDS
        for poller in self.pollers:
            poller.join(max(0.0, deadline - time.monotonic()))
        if hasattr(self, "http"):
            self.http.shutdown()
            self.http.server_close()
        if hasattr(self, "_api_socket"):
            self._api_socket.close()
        for component in reversed(self.components):
            component.stop()


# Seconds a stopping stack is given before its process ends regardless (Ctrl-C stops it within them).
STOP_SECONDS = 20.0


class SimulatorControls:
    """WSGI: the Graph simulator's control routes (``/_simulator/…``: its requests, statuses, templates…) on
    the API's port, answered by the stack's own simulator, so a developer command needs no other address
    (``make statuses``); every other path goes on to ``app``."""

    def __init__(self, app: Any, simulator: GraphSimulator) -> None:
        self.app = app
        self.simulator = simulator

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or "/"
        if not path.startswith("/_simulator/"):
            return self.app(environ, start_response)
        started = time.monotonic()
        statuses: list[int] = []

        def record_status(status: str, headers: Any, *rest: Any) -> Any:
            statuses.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, *rest)

        answer = self.simulator.wsgi(environ, record_status)
        terminal.report_path(environ.get("REQUEST_METHOD", "?"), path, statuses[0] if statuses else 0, started)
        return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run mkt-whatsapp-service locally (moto, no Docker).")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    # The least severe log record of the handlers the terminal shows (local/terminal.py).
    handler_log_level = os.environ.get("LOG_LEVEL", "WARNING").upper()
    if not isinstance(logging.getLevelName(handler_log_level), int):
        parser.error(f"LOG_LEVEL {handler_log_level} is not DEBUG, INFO, WARNING or ERROR")
    # One line per record, like the terminal's request, job and handler lines (local/terminal.py).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    # Powertools warns on every invocation that adds no metric; in a terminal that is only noise.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    for noisy in ("werkzeug", "samcli", "botocore", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    stack = LocalStack(
        port=args.port,
        host=args.host,
        graph_api_base_url=os.environ.get("GRAPH_API_BASE_URL", "").rstrip("/"),
        openai_base_url=os.environ.get("OPENAI_BASE_URL", "").rstrip("/"),
    )
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
    except OSError as error:
        print(f"local stack could not start: {error}", file=sys.stderr)
        stack.stop()
        return 1
    # After start: the handlers' Logger and Metrics read the functions' environment the stack has just set.
    terminal.install(log_level=handler_log_level)
    print(
        f"mkt-whatsapp-service ready: {stack.api_url}  (health: {stack.api_url}/health)\n"
        f"  Meta webhooks (the function URL, as output WebhookUrl): {stack.webhook_url}\n"
        f"  Graph API: {stack.graph_api_base_url}   OpenAI: {stack.openai_base_url}\n"
        f"  AWS emulator: {stack.aws_endpoint}\n"
        f"  dev token: make token SHOP=<shopId>   sign a webhook body: make sign BODY=<file.json>\n"
        "  Ctrl-C stops everything.",
        flush=True,
    )
    stopping.wait()
    print("stopping local stack…", flush=True)
    # Stopping is bounded: if a component's stop waits on a handler that does not return, the process ends
    # anyway after STOP_SECONDS (the emulator's state ends with it; see the end of this module).
    watchdog = threading.Timer(STOP_SECONDS, lambda: (sys.stdout.flush(), sys.stderr.flush(), os._exit(0)))
    watchdog.daemon = True
    watchdog.start()
    stack.stop()
    return 0


if __name__ == "__main__":
    code = main()
    # Ends here, not when the last thread does: a handler still running in a worker thread (a send waiting for
    # its slot, a flow's Lambda task called by the emulator's execution) would keep the interpreter's exit
    # waiting — concurrent.futures joins its workers at exit — and Ctrl-C must stop the stack within seconds.
    # The emulator's state ends with this process, so nothing they would finish is kept anyway.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
