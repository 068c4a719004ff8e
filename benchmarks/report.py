"""Turning measurements into figures: results.json entries, the terminal and Markdown tables, the bar chart.

Everything after ``summarise`` reads only the results dictionary (what results.json holds), so a saved
results.json can be rendered again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness import Measurement, Runner, paired_ratios, spread
from workloads import Workload

README_START, README_END = "<!-- bench-results:start -->", "<!-- bench-results:end -->"


def summarise(
    workload: Workload,
    measured: dict[str, Measurement],
    runners: list[Runner],
    missing: dict[str, str],
    peaks: dict[str, dict],
    pairs: list[str],
) -> dict:
    """The results.json entry of one workload: one result per runner (timed or why not), then the ratios."""
    results: dict[str, dict] = {name: {"status": status} for name, status in missing.items()}
    for runner in runners:
        m = measured[runner.name]
        result = {"status": m.status, "device": runner.device, "first_call_s": m.first_call_s}
        if m.status == "ok":
            time = spread(m.per_call_s)
            peak = peaks[runner.device]
            gflops = workload.flops / time["median"] / 1e9
            gbytes = workload.bytes / time["median"] / 1e9 if workload.bytes else None
            if workload.bound == "memory":
                rate, best = gbytes, peak["gbytes_per_s"][workload.name]
            else:
                rate, best = gflops, peak["gflops"]
            result.update(
                calls_per_repeat=m.calls, repeats=len(m.per_call_s), per_call_s=m.per_call_s, time_s=time,
                gflops=gflops, gbytes_per_s=gbytes, pct_of_peak=100 * rate / best,
            )  # fmt: skip
        if m.kernels is not None:
            result["kernels"] = m.kernels
        results[runner.name] = result

    ratios = {}
    for pair in pairs:
        top, bottom = pair.split("/")
        why = [f"{name}: {results[name]['status']}" for name in (top, bottom) if results[name]["status"] != "ok"]
        if why:
            ratios[pair] = {"status": "; ".join(why)}
        else:
            ratios[pair] = {"status": "ok", **paired_ratios(measured[top].per_call_s, measured[bottom].per_call_s)}
    return {
        "name": workload.name, "shape": workload.shape, "flops": workload.flops, "bytes": workload.bytes,
        "bound": workload.bound, "results": results, "ratios": ratios,
    }  # fmt: skip


# --- tables ---------------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} µs"


def _rate(entry: dict, result: dict) -> str:
    pct = result["pct_of_peak"]
    pct = f"{pct:.0f}%" if pct >= 10 else f"{pct:.2g}%"
    if entry["bound"] == "memory":
        return f"{result['gbytes_per_s']:.3g} GB/s {pct}"
    return f"{result['gflops']:.3g} GF/s {pct}"


def _short(status: str) -> str:
    # A table cell says what kind of problem; results.json keeps the whole message.
    return "error" if status.startswith("error") else status.split(":")[0]


def _ratio(ratio: dict) -> str:
    if ratio["status"] != "ok":
        return "-"
    return f"{ratio['median']:.3g}x ({ratio['p25']:.2g}-{ratio['p75']:.2g})"


def _own_kernels(result: dict) -> str:
    kernels = result.get("kernels")
    if not kernels or result["status"] != "ok":
        return "-"
    return f"{len(kernels['overridden'])}/{len(kernels['used'])}"


def tables(results: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of each table: time and rate per runner; ratios and first calls."""
    runners, pairs = results["runners"], results["pairs"]
    jit = [name for name in runners if results["backends"][name].get("overrides") is not None]
    timing_header = ["workload", "GFLOP"] + [cell for name in runners for cell in (name, "rate, % of peak")]
    ratio_header = ["workload", *pairs, *[f"1st call {name}" for name in runners], *[f"{n} own kernels" for n in jit]]
    timing_rows, ratio_rows = [], []
    for entry in results["workloads"]:
        row = [entry["name"], f"{entry['flops'] / 1e9:.3g}"]
        for name in runners:
            result = entry["results"][name]
            if result["status"] == "ok":
                row += [_duration(result["time_s"]["median"]), _rate(entry, result)]
            else:
                row += [_short(result["status"]), ""]
        timing_rows.append(row)
        ratio_rows.append(
            [entry["name"]]
            + [_ratio(entry["ratios"][pair]) for pair in pairs]
            + [_duration(entry["results"][name].get("first_call_s")) for name in runners]
            + [_own_kernels(entry["results"][name]) for name in jit]
        )
    mode = results["mode"]
    return [
        (
            f"Time per step (median of {mode['repeat']} repeats) and rate: GF/s = GFLOP/s vs the matmul peak, "
            "GB/s (memory-bound rows) vs a copy of the same size",
            timing_header,
            timing_rows,
        ),
        (
            "Ratios of step times (median, 25th-75th percentile over paired repeats; below 1 = the first is faster), "
            "first calls (JIT compile or cache load included), kernels a backend has of its own / kernels used",
            ratio_header,
            ratio_rows,
        ),
    ]


def headline(results: dict) -> list[str]:
    """What was run where: the lines above the tables."""
    m, mode = results["machine"], results["mode"]
    threads = ", ".join(f"{k} {v}" for k, v in m["threads"].items() if k != "requested" and v is not None)
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        f"tinynet bench, {mode['name']} run, {results['created']}: `{results['command']}`",
        f"machine: {m['cpu']}, {m['cores']} cores, GPU: {m['gpu'] or 'none'}; load average "
        f"{m['load_average'][0]:.2f} at the start, {m['load_average_end'][0]:.2f} at the end "
        "(other processes may have been running)",
        f"threads: {threads}; BLAS: {m['blas']}",
        f"versions: {versions}",
    ]
    for device, peak in results["peak"].items():
        by = ", ".join(f"{k} {v:.3g}" for k, v in peak["gflops_by"].items())
        copies = ", ".join(f"{name} {gbytes:.3g}" for name, gbytes in peak["gbytes_per_s"].items())
        lines.append(
            f"peak ({device}): {peak['gflops']:.3g} GFLOP/s (float32 matmul {peak['matmul_n']}: {by}); "
            f"GB/s of the fastest copy moving as many bytes as the step: {copies or '-'}"
        )
    return lines


def terminal(results: dict) -> str:
    out = headline(results)
    for title, header, rows in tables(results):
        widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
        out += ["", title]
        for row in [header, *rows]:
            out.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return "\n".join(out)


def markdown(results: dict) -> str:
    out = [f"- {line}" for line in headline(results)]
    for title, header, rows in tables(results):
        out += ["", f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
    out += ["", "<details><summary>What each step computes in this run</summary>", ""]
    out += [f"- `{w['name']}`: {w['shape']}" for w in results["workloads"]]
    out += ["", "</details>"]
    return "\n".join(out) + "\n"


def bar_chart(results: dict, path: Path) -> None:
    """Horizontal bars of each ratio per workload, log scale, with the 25th-75th percentile as error bars."""
    import matplotlib.pyplot as plt
    import numpy as np

    workloads, pairs = results["workloads"], results["pairs"]
    fig, ax = plt.subplots(figsize=(9, 1.5 + 0.25 * len(workloads) * max(1, len(pairs))))
    height = 0.8 / max(1, len(pairs))
    rows = np.arange(len(workloads))
    for k, pair in enumerate(pairs):
        ratios = [w["ratios"][pair] for w in workloads]
        ok = [i for i, r in enumerate(ratios) if r["status"] == "ok"]
        if not ok:
            continue
        median = np.array([ratios[i]["median"] for i in ok])
        low = median - np.array([ratios[i]["p25"] for i in ok])
        high = np.array([ratios[i]["p75"] for i in ok]) - median
        # Bars grow from 1 (a tie): leftwards when the first of the pair is faster, rightwards when slower.
        y = rows[ok] + (k - (len(pairs) - 1) / 2) * height
        ax.barh(y, median - 1, height, left=1, xerr=[low, high], label=pair)
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(rows, [w["name"] for w in workloads])
    ax.invert_yaxis()
    ax.set_xlabel("ratio of step times, log scale: left of 1, the first of the pair is faster")
    machine = results["machine"]
    ax.set_title(
        f"tinynet bench ({results['mode']['name']} run, {results['created']}): {machine['cpu']}, "
        f"{machine['cores']} cores, threads: {machine['threads']['requested']}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict, out: Path) -> list[Path]:
    """results.json, results.md and ratios.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md", out / "ratios.png"]
    paths[0].write_text(json.dumps(results, indent=2, ensure_ascii=False))
    paths[1].write_text(markdown(results))
    bar_chart(results, paths[2])
    return paths


def update_readme(readme: Path, text: str) -> None:
    """Replace what lies between the README's bench-results markers with ``text``."""
    source = readme.read_text()
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(source):
        raise SystemExit(f"{readme} has no {README_START} ... {README_END} section to replace")
    readme.write_text(pattern.sub(lambda _: f"{README_START}\n{text}{README_END}", source))
