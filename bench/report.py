"""Print the benchmark table: measured values, ratios against peers, and the targets."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "int8 vs ort fp32, batch 1 (speed-up)": (">=", 1.8),
    "int8 vs PyTorch, batch 1 (speed-up)": (">=", 5.0),
    "int8 vs ort fp32, short query (speed-up)": (">=", 1.8),
    "int8 vs PyTorch, short query (speed-up)": (">=", 5.0),
    "handler / bare runtime, batch 1": ("<=", 1.15),
    "handler / bare runtime, short query": ("<=", 1.15),
    "OIP JSON handler / bare runtime, batch 1": ("<=", 1.2),
    "OIP binary handler / bare runtime, batch 1": ("<=", 1.2),
    "OpenAI embeddings handler / bare runtime, batch 1": ("<=", 1.2),
    "cold start to first embedding, bare runtime (s)": ("<=", 0.8),
    "cold start to first embedding, through the handler (s)": ("<=", 0.6),
    "DynamoDB reads per warm request, registered model": ("<=", 0),
    "peak RSS (MB)": ("<=", 256),
    "cosine int8 vs fp32, mean": (">=", 0.99),
    "cosine int8 vs fp32, min": (">=", 0.98),
}


def checks(r: dict[str, Any]) -> dict[str, float | None]:
    """The numbers the targets are about."""
    b1 = r["latency"]["batch1"]
    torch_b1 = r.get("torch", {}).get("batch1_ms")
    q = r["latency"]["batch1_query"]
    torch_q = r.get("torch", {}).get("batch1_query_ms")
    cold = r["cold_start"]
    p = r["latency"]["protocols"]
    return {
        "int8 vs ort fp32, batch 1 (speed-up)": b1["ort_fp32_ms"] / b1["int8_runtime_ms"],
        "int8 vs PyTorch, batch 1 (speed-up)": torch_b1 / b1["int8_runtime_ms"]
        if torch_b1
        else None,
        "int8 vs ort fp32, short query (speed-up)": q["ort_fp32_ms"] / q["int8_runtime_ms"],
        "int8 vs PyTorch, short query (speed-up)": torch_q / q["int8_runtime_ms"]
        if torch_q
        else None,
        "handler / bare runtime, batch 1": b1["handler_ms"] / b1["int8_runtime_ms"],
        "handler / bare runtime, short query": r["latency"]["batch1_query"]["handler_ms"]
        / r["latency"]["batch1_query"]["int8_runtime_ms"],
        "OIP JSON handler / bare runtime, batch 1": p["oip_json"]["ratio"],
        "OIP binary handler / bare runtime, batch 1": p["oip_binary"]["ratio"],
        "OpenAI embeddings handler / bare runtime, batch 1": p["openai_base64"]["ratio"],
        "cold start to first embedding, bare runtime (s)": cold["runtime"]["total_ms"] / 1e3,
        "cold start to first embedding, through the handler (s)": cold["handler"]["total_ms"] / 1e3,
        "DynamoDB reads per warm request, registered model": r["registered"][
            "dynamodb_reads_per_warm_request"
        ],
        "peak RSS (MB)": max(cold["runtime"]["peak_rss_mb"], cold["handler"]["peak_rss_mb"]),
        "cosine int8 vs fp32, mean": r["quality"]["embedding"]["cosine_mean"],
        "cosine int8 vs fp32, min": r["quality"]["embedding"]["cosine_min"],
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
