"""Nothing leaves the machine: the whole workflow runs in a process where every outgoing
connection and every name lookup is refused and logged, and none is attempted."""

import json
import subprocess
import sys

import pytest

from .conftest import DEV_GOLD, SAMPLE

pytestmark = pytest.mark.slow

GUARD = r"""
import json, socket, sys

log = open(sys.argv[1], "a")

def refuse(*args, **kwargs):
    log.write(repr(args[1:3]) + "\n")
    log.flush()
    raise OSError("network disabled for this test: qcode must not connect")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from pipeline.cli import app

for args in json.loads(sys.argv[2]):
    try:
        code = app(args, standalone_mode=False)
    except SystemExit as exit:
        code = exit.code
    if code not in (0, None):
        sys.exit(f"qcode {' '.join(args)} exited {code}")
"""


def test_code_learn_evaluate_report_export_open_no_connection(tmp_path, cache_dir):
    inputs = tmp_path / "in"
    inputs.mkdir()
    chosen = ("icb_01.txt", "vcse_01.txt")
    for name in chosen:
        (inputs / name).write_bytes((SAMPLE / name).read_bytes())
    table = (SAMPLE / "participants.csv").read_text().splitlines()
    (inputs / "participants.csv").write_text(
        "\n".join([table[0], *(r for r in table[1:] if r.split(",")[0] in chosen)]) + "\n"
    )
    out, model, log = tmp_path / "out", tmp_path / "model", tmp_path / "connections.log"
    cache = ["--cache-dir", str(cache_dir)]
    steps = [
        ["code", str(inputs), "--out", str(out), "-q", *cache],
        ["learn", str(DEV_GOLD), "--out", str(model), *cache],
        ["code", str(inputs), "--out", str(out), "--model", str(model), "-q", *cache],
        ["evaluate", "--gold", str(DEV_GOLD), "--model", str(model), "--json", *cache],
        ["report", str(out)],
        ["export", "refi", str(out), "-o", str(tmp_path / "study.qdpx")],
        ["export", "table", str(out), "-o", str(tmp_path / "coded.xlsx")],
    ]
    done = subprocess.run(
        [sys.executable, "-c", GUARD, str(log), json.dumps(steps)], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not log.exists() or log.read_text() == "", f"connections attempted:\n{log.read_text()}"
    assert (
        (out / "report" / "report.html").is_file()
        and (tmp_path / "study.qdpx").is_file()
        and (tmp_path / "coded.xlsx").is_file()
    )
