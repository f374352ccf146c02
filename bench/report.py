"""The results of one bench/run.py run: a Markdown table (committable) and the raw JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rows import Row


def _ms(value: float) -> str:
    return f"{value:,.2f} ms"


def _times(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}×"


def _verdicts(targets: list[dict[str, Any]]) -> tuple[str, str]:
    if not targets:
        return "", ""
    texts = "; ".join(t["target"] for t in targets)
    words = []
    for t in targets:
        if t["met"] is None:
            words.append("not measured")
        else:
            shown = f"{t['value']:.2f}" if t["figure"] != "p50_ms" else _ms(t["value"])
            words.append(f"met ({shown})" if t["met"] else f"**missed** ({shown})")
    return texts, "; ".join(words)


def table(
    rows: list[Row],
    results: dict[str, dict[str, Any]],
    targets: list[dict[str, Any]],
    usual: str,
) -> str:
    """The rows as a Markdown table; a row run with other wrk flags than `usual` names them."""
    lines = [
        "| Row | req/s | p50 | p99 | req/s ÷ ceiling | p99 ÷ ceiling | Target | Result |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        text, verdict = _verdicts([t for t in targets if t["row"] == row.key])
        result = results.get(row.key)
        if result is None or result["status"] != "ok":
            if result is None:
                verdict = "not run"
            elif result["status"] == "n/a":
                verdict = f"n/a: {result['reason']}"
            else:
                verdict = f"**failed**: {result['reason']}"
            lines.append(f"| {row.label} | | | | | | {text} | {verdict} |")
            continue
        fig, ratio = result["figures"], result.get("ratios", {})
        label = row.label if result["wrk"] == usual else f"{row.label} (`{result['wrk']}`)"
        rps = "" if row.single_connection else f"{fig['rps']:,.1f}"
        p99 = "" if row.single_connection else _ms(fig["latency_ms"]["p99"])
        lines.append(
            f"| {label} | {rps} | {_ms(fig['latency_ms']['p50'])} | {p99} | "
            f"{_times(ratio.get('rps_ratio'))} | {_times(ratio.get('p99_ratio'))} | "
            f"{text} | {verdict} |"
        )
    return "\n".join(lines)


def profiles(rows: list[Row], results: dict[str, dict[str, Any]]) -> str:
    parts = []
    for row in rows:
        profile = results.get(row.key, {}).get("profile")
        if not profile:
            continue
        parts.append(f"### {row.label}: top functions by own time\n")
        if "error" in profile:
            parts.append(f"Not profiled: {profile['error']}\n")
            continue
        parts.append(
            f"{profile['samples']:,} samples at {profile['rate']} Hz, in a separate wrk pass "
            f"with py-spy attached ({profile['rps']:,.1f} req/s during it).\n"
        )
        parts.append("| Own time | Samples | Function |\n|---:|---:|---|")
        for entry in profile["top"]:
            parts.append(f"| {entry['share']:.1%} | {entry['samples']:,} | `{entry['function']}` |")
        parts.append("")
    return "\n".join(parts)


def markdown(
    header: dict[str, Any],
    rows: list[Row],
    results: dict[str, dict[str, Any]],
    targets: list[dict[str, Any]],
) -> str:
    load = header["load_average"]
    lines = [
        "# userdir against aiohttp's ceiling",
        "",
        f"- Date: {header['date']}",
        f"- Load averages before the run (1, 5, 15 min, `uptime`): {' / '.join(load)}",
        f"- CPUs: {header['cpus']}",
        f"- Commit: `{header['commit']}`",
        f"- Command: `{header['command']}`",
        f"- Load: wrk `{header['wrk']}` a row (the one-connection row: {header['wrk_single']}); "
        f"servers and wrk on 127.0.0.1, same machine",
        f"- Data: SQLite with the bundled sample data; PostgreSQL {header['postgres']} with "
        f"{header['users']:,} synthetic users (loaded in {header['load_seconds']} s)",
    ]
    if header.get("incomplete"):
        lines.append(f"- **Incomplete**: {header['incomplete']}")
    lines += [
        "",
        "Ratios compare with the ceiling of the same process count. Cached rows were checked to "
        "answer `X-Cache: HIT` before and after the measurement, uncached rows run with "
        "`CACHE_TTL=0`; a row with any non-2xx answer or socket error is marked failed.",
        "",
        table(rows, results, targets, header["wrk"]),
        "",
    ]
    if any(results.get(row.key, {}).get("profile") for row in rows):
        lines += ["## Profiles", "", profiles(rows, results)]
    return "\n".join(lines).rstrip() + "\n"


def write(
    directory: Path,
    stamp: str,
    header: dict[str, Any],
    rows: list[Row],
    results: dict[str, dict[str, Any]],
    targets: list[dict[str, Any]],
) -> tuple[Path, str]:
    """Write `<stamp>.md` and `<stamp>.json` into `directory`; return the Markdown and its path."""
    directory.mkdir(parents=True, exist_ok=True)
    text = markdown(header, rows, results, targets)
    md = directory / f"{stamp}.md"
    md.write_text(text)
    raw = {
        "header": header,
        "rows": [{"key": r.key, "label": r.label, **results.get(r.key, {})} for r in rows],
        "targets": targets,
    }
    (directory / f"{stamp}.json").write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n")
    return md, text
