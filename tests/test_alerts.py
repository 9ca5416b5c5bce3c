"""The alert log: every alert sent is kept, with its UTC time, in an append-only JSON-lines file
that several processes write at once; a writer waits for the one holding the log's lock; a torn
line is skipped and counted, never a lost alert."""

import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from f1_core import alerts, settings

WRITER = """
import sys
from f1_core import alerts
name, count = sys.argv[1], int(sys.argv[2])
for n in range(count):
    alerts.send("drift", f"{name} alert {n} " + "x" * 20000, {"writer": name, "n": n}, None)
"""


def test_send_keeps_each_alert_with_its_utc_time_beside_the_webhook(webhook):
    before = datetime.now(UTC)
    assert alerts.send(
        "drift", "2023-16 drifted", {"session_key": "2023-16-x-race", "share": 0.7}, settings.alert_webhook_url()
    )
    assert alerts.send("rollback", "v3 rolled back to v2", {"demoted": "3", "restored": "2", "laps": 200}, None)
    log = alerts.read_log(settings.alert_log_path())
    assert settings.alert_log_path() == settings.data_dir() / "alerts.jsonl"
    assert log.skipped == 0 and [a["kind"] for a in log.alerts] == ["drift", "rollback"]
    assert log.alerts[0]["details"] == {"session_key": "2023-16-x-race", "share": 0.7}
    at = datetime.fromisoformat(log.alerts[0]["at"])
    assert at.utcoffset() == timedelta(0) and before <= at <= datetime.now(UTC)
    assert webhook.bodies()[0]["text"] == "2023-16 drifted"  # the webhook still gets it


def test_writers_in_several_processes_keep_every_alert_whole_and_in_order(tmp_path):
    """Four processes sending long alerts at once: every alert is in the log, whole, each
    writer's in the order it sent them. (Each line goes in one O_APPEND write, which alone keeps
    these lines apart; what the lock adds is the next test's.)"""
    path = tmp_path / "alerts.jsonl"
    env = {"PATH": "", "F1_ALERT_LOG": str(path), "F1_DATA_DIR": str(tmp_path)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, f"w{i}", "40"], env=env, cwd=settings.PROJECT_ROOT)
        for i in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    log = alerts.read_log(path)
    assert log.skipped == 0 and len(log.alerts) == 160
    for name in ("w0", "w1", "w2", "w3"):  # each writer's alerts whole and in its own order
        assert [a["details"]["n"] for a in log.alerts if a["details"]["writer"] == name] == list(range(40))
    assert all(a["text"].endswith("x" * 20000) for a in log.alerts)


def test_a_torn_line_is_skipped_and_counted_and_the_next_alert_stays_whole(tmp_path):
    path = tmp_path / "alerts.jsonl"
    alerts.send("drift", "first", {"session_key": "a"}, None, log_path=path)
    with path.open("ab") as log:  # a writer that died mid-line
        log.write(b'{"at": "2024-05-01T12:00:00+00:00", "kind": "dri')
    alerts.send("rollback", "second", {"demoted": "2"}, None, log_path=path)
    read = alerts.read_log(path)
    assert [a["text"] for a in read.alerts] == ["first", "second"] and read.skipped == 1


def _waiting_for_a_lock_on(path) -> bool:
    """Whether some process waits for a flock of `path` (a blocked request in /proc/locks)."""
    stat = os.stat(path)
    where = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino} "
    return any("-> FLOCK" in line and where in line for line in Path("/proc/locks").read_text().splitlines())


def test_a_writer_waits_for_the_lock_then_ends_the_line_torn_under_it(tmp_path):
    """Another writer (its own open of the log, as another process has) holds the log's lock
    while its line is still half written: `send` waits for the lock, and only then looks at how
    the log ends, so its alert starts on a line of its own."""
    path = tmp_path / "alerts.jsonl"
    alerts.send("drift", "first", {"session_key": "a"}, None, log_path=path)
    holder = os.open(path, os.O_WRONLY | os.O_APPEND)  # its own open file: a lock of its own
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        writer = threading.Thread(
            target=alerts.send, args=("rollback", "second", {"demoted": "2"}, None), kwargs={"log_path": path}
        )
        writer.start()
        deadline = time.monotonic() + 10
        while not _waiting_for_a_lock_on(path):
            assert time.monotonic() < deadline, "the writer did not wait for the lock"
            assert writer.is_alive(), "the writer wrote without the lock"
            time.sleep(0.01)
        assert [a["text"] for a in alerts.read_log(path).alerts] == ["first"]  # nothing written yet
        os.write(holder, b'{"at": "2024-05-01T12:00:00+00:00", "kind": "dri')  # then it dies mid-line
    finally:
        os.close(holder)  # releases the lock
    writer.join(timeout=10)
    assert not writer.is_alive()
    read = alerts.read_log(path)
    assert [a["text"] for a in read.alerts] == ["first", "second"] and read.skipped == 1


def test_lines_that_are_not_alerts_are_counted(tmp_path):
    path = tmp_path / "alerts.jsonl"
    good = {"at": "2024-05-01T12:00:00+00:00", "kind": "drift", "text": "t", "details": {}}
    lines = [
        json.dumps(good),
        "not json",
        json.dumps([1, 2]),
        json.dumps({"kind": "drift"}),
        json.dumps({**good, "at": "yesterday"}),
        json.dumps({**good, "details": "x"}),
        "",
        json.dumps(good),
    ]
    path.write_text("\n".join(lines) + "\n")
    read = alerts.read_log(path)
    assert len(read.alerts) == 2 and read.skipped == 5
    assert alerts.read_log(tmp_path / "none.jsonl") == alerts.AlertLog([], 0)


def test_a_log_that_cannot_be_written_never_fails_the_caller(tmp_path, caplog):
    folder = tmp_path / "a-folder"
    folder.mkdir()  # a folder where the log file should be
    with caplog.at_level(logging.ERROR, logger="f1.alerts"):
        assert alerts.send("drift", "still sent", {}, None, log_path=folder) is True
    assert "could not be written" in caplog.text and str(folder) in caplog.text
