"""AI agents: ranking time per customer message for the largest agent (500 FAQ + 2,000 products, warm), and the
prompt tokens the provider reports for it against an agent of 5 + 5 (issue 11: at most 1.5×).

The knowledge is the generated Vietnamese electronics shop of tests/fixtures/ai_knowledge.py. Prompt tokens
are the OpenAI simulator's ``usage`` (the documented estimate of ``mkt_whatsapp.ai.prompt``), through the real
``openai`` client over HTTP; the same messages are also counted with the estimate directly."""

from __future__ import annotations

import logging
import os
import statistics
import time
from typing import Any

from local.openai_simulator import OpenAISimulator  # puts the layer on the path

RUNS_PER_MESSAGE = 50
TARGET_P50_MS = 10.0
TARGET_RATIO = 1.5

# What customers of an electronics shop write, accented or not, alone or after a laptop conversation.
MESSAGES = (
    "Cho mình hỏi có giao hàng đến Đà Nẵng không?",
    "co giao hang khong",
    "Laptop Dell Inspiron 15 còn hàng không, trả góp qua thẻ Vietcombank được không?",
    "Tai nghe chống ồn Sony loại nào tốt, bảo hành bao lâu?",
    "iphone 15 pro max 256gb mau den gia bao nhieu",
    "tủ lạnh inverter cho gia đình 4 người tầm 10 triệu",
    "Shop có lắp đặt điều hòa tại nhà không? Nhà mình ở Thủ Đức",
    "Máy giặt LG 9kg cửa trước có sẵn không ạ",
    "mình muốn đổi trả laptop mua tuần trước bị lỗi màn hình",
    "Cửa hàng ở Cầu Giấy mở cửa mấy giờ?",
    "tra gop home credit can giay to gi",
    "Samsung Galaxy S24 Ultra có trả góp 0% không shop",
)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure() -> dict[str, Any]:
    from mkt_whatsapp.ai import provider
    from mkt_whatsapp.ai.prompt import build_messages, estimate_messages, knowledge_query
    from mkt_whatsapp.ai.ranking import KnowledgeIndex
    from mkt_whatsapp.core.observability import logger
    from mkt_whatsapp.core.settings import get_settings
    from tests.fixtures.ai_knowledge import (
        conversation,
        large_knowledge,
        regular_customer,
        shop_profile,
        small_knowledge,
    )

    knowledge = large_knowledge()
    started = time.perf_counter()
    large = KnowledgeIndex.build(knowledge)
    build_ms = (time.perf_counter() - started) * 1000
    small = KnowledgeIndex.build(small_knowledge())

    # Ranking per message, warm: the query build_messages ranks for (the customer's last three messages).
    queries = [knowledge_query(conversation(message)) for message in MESSAGES]
    for query in queries:
        large.top(query, faqs=3, products=3)
    samples: list[float] = []
    for _ in range(RUNS_PER_MESSAGE):
        for query in queries:
            started = time.perf_counter()
            large.top(query, faqs=3, products=3)
            samples.append((time.perf_counter() - started) * 1000)
    prompt_samples: list[float] = []
    for message in MESSAGES:
        turns = conversation(message)
        for _ in range(10):
            started = time.perf_counter()
            build_messages(shop_profile(), regular_customer(), turns, large)
            prompt_samples.append((time.perf_counter() - started) * 1000)

    # Prompt tokens as the provider reports them, large agent against 5 + 5, per message.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per simulated call
    logger.setLevel("WARNING")  # nor a line per completion
    simulator = OpenAISimulator().start()
    saved = {name: os.environ.get(name) for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    os.environ.update({"OPENAI_BASE_URL": simulator.base_url, "OPENAI_API_KEY": "sk-bench"})
    get_settings.cache_clear()
    provider.reset()
    per_message = []
    try:
        for message in MESSAGES:
            turns = conversation(message)
            figures: dict[str, Any] = {"message": message}
            for label, index in (("large", large), ("small", small)):
                messages = build_messages(shop_profile(), regular_customer(), turns, index)
                completion = provider.complete(shop_profile(), messages)
                figures[f"{label}_prompt_tokens"] = completion.prompt_tokens
                figures[f"{label}_estimate"] = estimate_messages(messages)
            figures["ratio"] = round(figures["large_prompt_tokens"] / figures["small_prompt_tokens"], 2)
            per_message.append(figures)
    finally:
        simulator.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        provider.reset()
        get_settings.cache_clear()
    ratios = [figures["ratio"] for figures in per_message]
    return {
        "knowledge": {"faqs": len(knowledge.faqs), "products": len(knowledge.products)},
        "index_build_ms": round(build_ms, 1),
        "ranking_ms_per_message": {
            "p50": round(_percentile(samples, 0.50), 3),
            "p99": round(_percentile(samples, 0.99), 3),
            "mean": round(statistics.fmean(samples), 3),
            "runs": len(samples),
            "target_p50": TARGET_P50_MS,
        },
        "prompt_build_ms": {
            "p50": round(_percentile(prompt_samples, 0.50), 3),
            "p99": round(_percentile(prompt_samples, 0.99), 3),
        },
        "prompt_tokens": {
            "source": "the OpenAI simulator's usage (estimate: ASCII chars / 3.5 + other chars, 4 per message)",
            "per_message": per_message,
            "large_median": statistics.median(figures["large_prompt_tokens"] for figures in per_message),
            "small_median": statistics.median(figures["small_prompt_tokens"] for figures in per_message),
            "max_ratio": max(ratios),
            "median_ratio": statistics.median(ratios),
            "target_ratio": TARGET_RATIO,
        },
    }


def report(figures: dict[str, Any]) -> None:
    ranking, prompt, tokens = figures["ranking_ms_per_message"], figures["prompt_build_ms"], figures["prompt_tokens"]
    knowledge = figures["knowledge"]
    print(f"\nAI agents ({knowledge['faqs']} FAQ + {knowledge['products']} products, warm, in-process)")
    print(f"  index build (once per agent version): {figures['index_build_ms']} ms")
    print(
        f"  ranking per message: p50 {ranking['p50']} ms, p99 {ranking['p99']} ms over {ranking['runs']} runs"
        f" (target p50 <= {ranking['target_p50']} ms)"
    )
    print(f"  whole prompt build: p50 {prompt['p50']} ms, p99 {prompt['p99']} ms")
    print(
        f"  prompt tokens (simulator usage), large vs 5 + 5: median {tokens['large_median']}"
        f" vs {tokens['small_median']}, ratio median {tokens['median_ratio']}x, max {tokens['max_ratio']}x"
        f" (target <= {tokens['target_ratio']}x)"
    )
    for row in tokens["per_message"]:
        large, small = row["large_prompt_tokens"], row["small_prompt_tokens"]
        print(f"    {large:5} / {small:5} = {row['ratio']:.2f}x  {row['message']}")
