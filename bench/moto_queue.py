"""A benchmark-only seam for moto's server: a queue's attributes computed when one is read, not all of them
whenever one is.

Why: moto 5.2.5's ``SendMessage`` reads one attribute of the queue (``ContentBasedDeduplication``) through
``Queue.attributes``, which computes every attribute — the message counts among them, by walking every
message of the queue twice. A send to a queue of n messages costs O(n): the 100,000 messages of the campaign
fan-out benchmark (bench/campaigns.py) would cost moto billions of steps, where SQS stores a message. Here
``attributes`` is a mapping with the same keys whose values are moto's own properties, computed on reading
(the same conversions: booleans as ``"true"``/``"false"``, the policies as moto renders them), so
``GetQueueAttributes`` answers what moto answers and a send reads the one attribute it needs.

Installed only in the benchmark's emulator process (``python -m bench.moto_server``), never in the tests or
``make dev``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from moto.core.utils import camelcase_to_underscores
from moto.sqs.models import Queue

_ORIGINAL: dict[str, Any] = {}


class _Attributes(Mapping[str, Any]):
    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:  # type: ignore[attr-defined]
            names += queue.KMS_ATTRIBUTES
        self._names = names

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        if name == "RedrivePolicy" and self._queue.redrive_policy:
            return json.dumps(self._queue.redrive_policy)
        value = getattr(self._queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL["attributes"] = Queue.__dict__["attributes"]
    Queue.attributes = property(_Attributes)  # type: ignore[assignment,method-assign]


def uninstall() -> None:
    if _ORIGINAL:
        Queue.attributes = _ORIGINAL.pop("attributes")  # type: ignore[method-assign]
