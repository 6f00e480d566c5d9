"""The HTML of the dashboard page (`dashboard.py` serves it): server-side, readable without
scripts, reloading itself, every value escaped."""

from __future__ import annotations

import html
from typing import Any

REFRESH_SECONDS = 2
PAGE = "cloudsurge"


def _of(part: dict[str, Any]) -> str:
    total = part["total"]
    return f"{part['done']:,} / {total:,}" if total is not None else f"{part['done']:,} / ?"


def _table(headers: list[str], rows: list[list[Any]], css: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        f'<tr class="{css}">' + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body or '<tr><td>none</td></tr>'}</table>"


def _job_html(job: dict[str, Any]) -> str:
    total = job["formulae"]["total"] or 0
    share = 100.0 * job["formulae"]["done"] / total if total else 0.0
    running = [
        [r["task"], r["formulae"], r["worker"], r["consumer"], f"{r['seconds']:.1f} s",
         r["attempt"]]
        for r in job["running"]
    ]  # fmt: skip
    recent = [
        [r["task"], r["worker"], r["status"],
         "" if r["seconds"] is None else f"{r['seconds']:.1f} s", f"{r['structures']:,}"]
        for r in job["recent"]
    ]  # fmt: skip
    state = "finished" if job["finished"] else "running"
    return (
        f'<section class="job" data-job="{html.escape(job["job"])}">'
        f"<h2>job {html.escape(job['job'])} ({state}, {job['elapsed']:.1f} s)</h2>"
        f'<div class="bar"><div style="width:{share:.1f}%"></div></div>'
        f'<p>formulae <b class="formulae">{_of(job["formulae"])}</b>, '
        f'tasks <b class="tasks">{_of(job["tasks"])}</b>, '
        f'structures <b class="structures">{job["structures"]:,}</b> '
        f'(generated <b class="generated">{job["generated"]:,}</b>), '
        f"failed formulae {job['failed_formulae']:,}, retries {job['retries']:,}; "
        f"{job['formulae_per_second']:,.1f} formulae/s, "
        f"{job['structures_per_second']:,.0f} structures/s</p>"
        "<h3>running</h3>"
        + _table(["task", "formulae", "worker", "consumer", "running for", "attempt"], running,
                 "running")
        + "<h3>recently ended</h3>"
        + _table(["task", "worker", "status", "took", "structures"], recent, "ended")
        + "</section>"
    )  # fmt: skip


def render(snapshot: dict[str, Any]) -> str:
    """The page: server-side HTML (readable without scripts) that reloads itself."""
    jobs = "".join(_job_html(job) for job in snapshot["jobs"]) or "<p>no job announced yet</p>"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{REFRESH_SECONDS}'>"
        "<title>cloudsurge: tasks and progress</title><style>"
        "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
        ".bar{width:40em;height:1em;border:1px solid #888}.bar div{height:100%;background:#3a7}"
        "</style></head><body><h1>cloudsurge tasks</h1>"
        f"{jobs}<p><a href='status'>Dask status</a> · <a href='{PAGE}/status.json'>JSON</a></p>"
        "</body></html>"
    )
