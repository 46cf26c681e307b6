"""The sender benchmark's own harness, small: moto's server, the Graph simulator and two sender
containers as processes, a configured rate the emulated path can exceed. Keeps `make bench` working and
checks, end to end across processes, what it reports: every message sent once, no sliding second of
departures over the rate. (Arrivals at the simulator add this machine's scheduling to each send; the
benchmark reports them, and the send rate allows 30 ms of it, but a loaded test machine can exceed that.)"""

from __future__ import annotations

from bench import sender as sender_bench


def test_messages_cross_processes_within_the_rate_and_all_end_sent() -> None:
    report = sender_bench.run(120, 15, containers=2)
    assert report["sends_at_graph"] == 120  # each message sent exactly once
    assert report["final_statuses"] == {"sent": 120}
    assert report["busiest_second_of_departures"] <= 15
    assert report["service_aws_calls_per_message"] < 4  # claim, pointer, sent, and a share of the slots
