"""Print the benchmark table: measured values, ratios against peers, and the targets."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "int8 vs ort fp32, batch 1 (speed-up)": (">=", 1.8),
    "int8 vs PyTorch, batch 1 (speed-up)": (">=", 5.0),
    "int8 vs ort fp32, short query (speed-up)": (">=", 2.0),
    "int8 vs PyTorch, short query (speed-up)": (">=", 5.0),
    "handler / bare runtime, batch 1": ("<=", 1.15),
    "handler / bare runtime, short query": ("<=", 1.15),
    "OIP JSON handler / bare runtime, batch 1": ("<=", 1.2),
    "OIP binary handler / bare runtime, batch 1": ("<=", 1.2),
    "OpenAI embeddings handler / bare runtime, batch 1": ("<=", 1.2),
    "cold start to first embedding, bare runtime (s)": ("<=", 0.8),
    "cold start to first embedding, through the handler (s)": ("<=", 0.5),
    "cold start, handler / bare runtime": ("<=", 2.5),
    "DynamoDB reads per warm request, registered model": ("<=", 0),
    "peak RSS (MB)": ("<=", 256),
    "cosine int8 vs fp32, mean": (">=", 0.99),
    "cosine int8 vs fp32, min": (">=", 0.98),
    "int8 vs ort fp32, batch 32 (speed-up)": (">=", 1.5),
    "edge cases, cosine to sentence-transformers, mean": (">=", 0.993),
    "edge cases, cosine to sentence-transformers, min": (">=", 0.98),
    "edge cases, alone vs in a 32-row batch, min cosine": (">=", 0.9999),
    "USD per 1M tokens, int8 handler, x86_64": ("<=", 0.005),
}


def speedup(case: dict[str, Any]) -> float:
    """ORT fp32 over int8, from their alternating pairs (older results: separate medians)."""
    int8 = case.get("int8_paired_with_fp32_ms") or case["int8_runtime_ms"]
    return float(case["ort_fp32_ms"]) / float(int8)


def checks(r: dict[str, Any]) -> dict[str, float | None]:
    """The numbers the targets are about."""
    b1 = r["latency"]["batch1"]
    torch = r.get("torch") or {}
    q = r["latency"]["batch1_query"]

    def versus_torch(case: str) -> float | None:  # interleaved rounds: both in the same minutes
        if f"{case}_ms" not in torch:
            return None
        ours = torch.get(f"{case}_int8_ms") or r["latency"][case]["int8_runtime_ms"]
        return float(torch[f"{case}_ms"]) / float(ours)

    cold = r["cold_start"]
    p = r["latency"]["protocols"]
    edge = r["quality"]["embedding_edge_cases"]
    return {
        "int8 vs ort fp32, batch 1 (speed-up)": speedup(b1),
        "int8 vs PyTorch, batch 1 (speed-up)": versus_torch("batch1"),
        "int8 vs ort fp32, short query (speed-up)": speedup(q),
        "int8 vs PyTorch, short query (speed-up)": versus_torch("batch1_query"),
        "handler / bare runtime, batch 1": b1["handler_ms"] / b1["int8_runtime_ms"],
        "handler / bare runtime, short query": r["latency"]["batch1_query"]["handler_ms"]
        / r["latency"]["batch1_query"]["int8_runtime_ms"],
        "OIP JSON handler / bare runtime, batch 1": p["oip_json"]["ratio"],
        "OIP binary handler / bare runtime, batch 1": p["oip_binary"]["ratio"],
        "OpenAI embeddings handler / bare runtime, batch 1": p["openai_base64"]["ratio"],
        "cold start to first embedding, bare runtime (s)": cold["runtime"]["total_ms"] / 1e3,
        "cold start to first embedding, through the handler (s)": cold["handler"]["total_ms"] / 1e3,
        "cold start, handler / bare runtime": cold["handler"]["total_ms"]
        / cold["runtime"]["total_ms"],
        "DynamoDB reads per warm request, registered model": r["registered"][
            "dynamodb_reads_per_warm_request"
        ],
        "peak RSS (MB)": max(cold["runtime"]["peak_rss_mb"], cold["handler"]["peak_rss_mb"]),
        "cosine int8 vs fp32, mean": r["quality"]["embedding"]["cosine_mean"],
        "cosine int8 vs fp32, min": r["quality"]["embedding"]["cosine_min"],
        "int8 vs ort fp32, batch 32 (speed-up)": speedup(r["latency"]["batch32"]),
        "edge cases, cosine to sentence-transformers, mean": edge["cosine_mean"],
        "edge cases, cosine to sentence-transformers, min": edge["cosine_min"],
        "edge cases, alone vs in a 32-row batch, min cosine": edge["batch_independence_min"],
        "USD per 1M tokens, int8 handler, x86_64": r["latency"]["cost"]["handler"]["x86_64"],
    }


def print_table(r: dict[str, Any]) -> None:
    """Latency side by side, cold start, quality, then each target with pass/fail."""
    torch = r.get("torch", {})
    m = r["machine"]
    cpu = f"{m.get('cpu', '?')}, family {m.get('cpu_family', '?')} model {m.get('cpu_model', '?')}"
    print(f"\nall-minilm-l6-v2, {m['cpus']} CPUs of {cpu}, median ms per request")
    print(f"{'case':>12} {'tokens':>6} {'PyTorch fp32':>13} {'ORT fp32':>9} {'int8':>8} "
          f"{'handler':>8}")  # fmt: skip
    for case in ("batch1", "batch32", "batch1_query"):
        row = r["latency"][case]
        print(f"{case:>12} {row['tokens']:>6} {torch.get(f'{case}_ms', float('nan')):>13.2f} "
              f"{row['ort_fp32_ms']:>9.2f} {row['int8_runtime_ms']:>8.2f} "
              f"{row['handler_ms']:>8.2f}")  # fmt: skip
    peer = r["latency"].get("fastembed")
    if peer:
        for case in ("batch1", "batch32"):
            row = peer[case]
            print(f"{case:>12} fastembed {row['fastembed_ms']:.2f} ms: "
                  f"x{row['fastembed_over_runtime']} our runtime, "
                  f"x{row['fastembed_over_handler']} our handler")  # fmt: skip
    c = r["latency"]["cost"]
    print(f"USD per 1M tokens at {c['memory_mb']} MB (x86_64 / arm64): int8 handler "
          f"{c['handler']['x86_64']:.5f} / {c['handler']['arm64']:.5f}, ORT fp32 "
          f"{c['ort_fp32']['x86_64']:.5f}; OpenAI text-embedding-3-small "
          f"{c['openai_text_embedding_3_small_per_1m']}")  # fmt: skip
    cold = r["cold_start"]
    print(f"\ncold start ({cold['source']}): runtime {cold['runtime']['total_ms']:.0f} ms, "
          f"handler {cold['handler']['total_ms']:.0f} ms "
          f"(import {cold['handler']['import_ms']:.0f} ms)")  # fmt: skip
    q = r["quality"]
    print(f"iris-rf accuracy {q['iris-rf']['accuracy']}, "
          f"digits-cnn accuracy {q['digits-cnn']['accuracy']}\n")  # fmt: skip
    for name, value in checks(r).items():
        op, target = TARGETS[name]
        ok = value is not None and (value >= target if op == ">=" else value <= target)
        shown = "n/a" if value is None else f"{value:.3f}"
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<55} {shown:>8}  (target {op} {target})")
