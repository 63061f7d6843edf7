"""``torchfacts bench``: run the pytest-benchmark suite and render a report a person can read.

The report (``DIR/report.md``) has the environment, four headline numbers,
one table per group — median, IQR, ratio to the group's baseline measured in
the same run, GB/s for copies (bytes read + written) — and log-log plots of
time against size.

>>> rows = [_row({"group": "g", "name": "t", "stats": {"median": 2e-3, "iqr": 1e-4},
...               "extra_info": {"op": "copy", "bytes": 8_000_000, "baseline": False, "family": "views"}})]
>>> rows[0]["gbps"]
4.0
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

__all__ = ["benchmarks_dir", "run_benchmarks", "render_report", "headline"]


def benchmarks_dir() -> Path:
    """The suite lives beside the package in a source checkout (``pip install -e .``)."""
    folder = Path(__file__).resolve().parent.parent / "benchmarks"
    if not (folder / "conftest.py").exists():
        raise FileNotFoundError(f"no benchmark suite at {folder}: `torchfacts bench` runs from a source checkout")
    return folder


def run_benchmarks(output: Path, *, device: str | None = None, quick: bool = False) -> Path:
    """Run the suite in one process (timings need it) and return the JSON file pytest-benchmark wrote."""
    folder = benchmarks_dir()
    output.mkdir(parents=True, exist_ok=True)
    results = output / "benchmarks.json"
    env = dict(os.environ, TORCHFACTS_BENCH_QUICK="1" if quick else "0")
    if device:
        env["TORCHFACTS_BENCH_DEVICE"] = device
    command = [sys.executable, "-m", "pytest", str(folder), "-n", "0", "-q", "-p", "no:cacheprovider",
               f"--benchmark-json={results}", "--benchmark-columns=median,iqr,rounds"]
    if quick:
        command += ["--benchmark-max-time=0.05", "--benchmark-min-rounds=3", "--benchmark-warmup=off"]
    done = subprocess.run(command, cwd=folder.parent, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the benchmark run failed (pytest exit code {done.returncode})")
    data = json.loads(results.read_text())
    for entry in data["benchmarks"]:
        entry["stats"].pop("data", None)  # every round's raw time: megabytes the report does not need
    results.write_text(json.dumps(data, indent=1))
    return results


def _row(bench: dict[str, Any]) -> dict[str, Any]:
    info, stats = bench.get("extra_info", {}), bench["stats"]
    nbytes = info.get("bytes")
    return {
        "group": bench["group"], "name": bench["name"], "op": info.get("op", bench["name"]),
        "family": info.get("family", "other"), "title": info.get("title", bench["group"]),
        "device": info.get("device", "cpu"), "size": info.get("size"), "baseline": bool(info.get("baseline")),
        "median": stats["median"], "iqr": stats.get("iqr", 0.0), "rounds": stats.get("rounds"),
        "gbps": round(nbytes / stats["median"] / 1e9, 3) if nbytes else None,
    }


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _groups(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["group"]].append(row)
    for members in groups.values():
        base = next((r["median"] for r in members if r["baseline"]), None)
        for r in members:
            r["ratio"] = r["median"] / base if base else None
    return dict(sorted(groups.items()))


def _find(rows, family, op, device="cpu", size=None):
    matches = [r for r in rows if r["family"] == family and r["op"] == op and r["device"] == device
               and (size is None or r["size"] == size)]
    return matches[0] if matches else None


def headline(rows: list[dict], device: str = "cpu") -> list[str]:
    """The four numbers the report leads with, each from this one run (missing ones say so)."""
    lines = []
    sizes = sorted({r["size"] for r in rows if r["family"] == "views" and r["size"] and r["device"] == device})
    if sizes:
        small, big = _find(rows, "views", "view", device, sizes[0]), _find(rows, "views", "view", device, sizes[-1])
        lines.append(f"`view` time at {sizes[-1]:.0e} vs {sizes[0]:.0e} elements: **{big['median'] / small['median']:.2f}×** "
                     f"({_time(big['median'])} vs {_time(small['median'])}) — a view's cost does not grow with size")
        contiguous = _find(rows, "views", ".contiguous() of a transpose", device, sizes[-1])
        clone = _find(rows, "views", "clone()", device, sizes[-1])
        lines.append(f"`.contiguous()` of a transpose at {sizes[-1]:.0e}: {contiguous['gbps']} GB/s = "
                     f"**{contiguous['gbps'] / clone['gbps']:.2f}** of `clone()`'s {clone['gbps']} GB/s")
    static, same = (_find(rows, "padding", op, device) for op in ("conv_same (static)", "nn.Conv2d(padding='same')"))
    if static and same:
        lines.append(f"static `conv_same` / `nn.Conv2d(padding='same')`: **{static['median'] / same['median']:.3f}**")
    fitted, hand = (_find(rows, "training", op, device) for op in ("fit()", "hand-written loop"))
    if fitted and hand:
        lines.append(f"one epoch of `fit()` / hand-written loop: **{fitted['median'] / hand['median']:.3f}**")
    return lines or ["no benchmarks ran on this device"]


def _plot(rows: list[dict], family: str, device: str, path: Path) -> Path | None:
    sized = [r for r in rows if r["family"] == family and r["device"] == device and r["size"]]
    if not sized:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for op in dict.fromkeys(r["op"] for r in sized):
        points = sorted((r["size"], r["median"]) for r in sized if r["op"] == op)
        ax.plot(*zip(*points), marker="o", label=op)
    ax.set(xscale="log", yscale="log", xlabel="elements", ylabel="median time (s)", title=f"{family} [{device}]")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _environment(data: dict) -> list[str]:
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw") or platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return [f"- torch {torch.__version__}, Python {platform.python_version()}",
            f"- CPU: {cpu}; torch threads: {torch.get_num_threads()}; GPU: {gpu}",
            f"- run: {data.get('datetime', 'unknown time')}"]


def render_report(results: Path, output: Path) -> Path:
    """Write ``output/report.md`` (and its PNG plots) from a pytest-benchmark JSON file."""
    data = json.loads(Path(results).read_text())
    rows = [_row(b) for b in data["benchmarks"]]
    groups = _groups(rows)
    devices = sorted({r["device"] for r in rows}) or ["cpu"]
    lines = ["# torchfacts benchmarks", "", *_environment(data), ""]
    for device in devices:
        lines += [f"## Headline [{device}]", "", *[f"- {h}" for h in headline(rows, device)], ""]
    lines += ["Ratios compare with the group's baseline (marked ★), measured in the same run; "
              "GB/s counts bytes read + written.", ""]
    for family in dict.fromkeys(r["family"] for r in rows):
        lines += [f"## {family}", ""]
        for device in devices:
            plot = _plot(rows, family, device, output / f"{family}-{device}.png")
            if plot:
                lines += [f"![{family} on {device}]({plot.name})", ""]
        for name, members in groups.items():
            if members[0]["family"] != family:
                continue
            lines += [f"### {name}", "", "| op | median | IQR | ratio | GB/s | rounds |", "|---|---:|---:|---:|---:|---:|"]
            for r in sorted(members, key=lambda r: r["median"]):
                ratio = f"{r['ratio']:.3g}" if r["ratio"] is not None else "—"
                star = " ★" if r["baseline"] else ""
                lines.append(f"| {r['op']}{star} | {_time(r['median'])} | {_time(r['iqr'])} | {ratio} | "
                             f"{r['gbps'] if r['gbps'] is not None else '—'} | {r['rounds']} |")
            lines.append("")
    report = output / "report.md"
    report.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return report
