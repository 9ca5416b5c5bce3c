"""The console's budgets, measured in Debian's Chromium against the real service and console: the
first render (navigation to the live tower filled), a landed lap on screen (a row written to the
live folder until the tower shows it), and the app's JavaScript, gzipped.

Starts the prediction service and the console on free ports (keys, live folder and prediction
log in a temporary folder; the champion of `make run`), lands the first 100 laps of a real race,
then lands one lap at a time.

    .venv/bin/python benchmarks/console_budget.py [--laps 10]
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from f1_console.local import LocalConsole  # noqa: E402
from f1_core import registry, settings  # noqa: E402
from f1_core import replay as playback
from f1_core.api_keys import KeyStore  # noqa: E402
from f1_serving.local import LocalService  # noqa: E402

SESSION = "2023-16-japanese-grand-prix-race"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--laps", type=int, default=10, help="laps landed one at a time")
    args = parser.parse_args()
    if registry.version_of(registry.CHAMPION) is None:
        sys.exit("no champion in the registry: run `make run` first")
    dist = settings.PROJECT_ROOT / "console" / "dist" / "assets"
    js = sum(len(gzip.compress(path.read_bytes())) for path in dist.glob("*.js"))
    # what the first page loads: the entry script (the other pages' code comes when opened)
    found = re.search(r'src="/assets/([^"]+\.js)"', (dist.parent / "index.html").read_text())
    if found is None:
        sys.exit(f"{dist.parent / 'index.html'} names no entry script: rebuild the console (make console)")
    entry = found.group(1)
    first_js = len(gzip.compress((dist / entry).read_bytes()))
    ref, raw = playback.load(settings.archive_dir(), SESSION)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        _, key = KeyStore(tmp / "keys.json").create("engineer", "benchmark")
        env = {
            "F1_API_KEYS": str(tmp / "keys.json"),
            "F1_LIVE_DIR": str(tmp / "live"),
            "F1_PREDICTION_LOG": str(tmp / "log"),
        }
        folder = playback.LiveFolder(tmp / "live", ref, raw, total_laps=53)
        order = raw.laps.with_row_index("_row").sort("LapNumber", "Time")
        folder.land(folder.laps_path, raw.laps[order["_row"][:100].to_list()])
        with (
            LocalService(env, log_path=tmp / "service.log") as service,
            LocalConsole(
                {**env, "F1_CONSOLE_SERVICE_URL": service.url, "F1_DATA_DIR": str(tmp)}, log_path=tmp / "console.log"
            ) as console,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(console.url)
            page.fill("input[name=api_key]", key)
            page.click("button[type=submit]")
            page.locator("[data-testid=session-option]").first.wait_for()
            renders = []
            for _ in range(3):  # a signed-in reload, as an engineer opening the console
                started = time.perf_counter()
                page.goto(console.url)
                page.locator("[data-testid=session-option]").first.click()
                page.locator("[data-testid=tower-row]").first.wait_for()
                renders.append(time.perf_counter() - started)
            delays = []
            for index in order["_row"][100 : 100 + args.laps].to_list():
                lap = raw.laps[index]
                driver, number = lap["Driver"][0], int(float(lap["LapNumber"][0]))
                cell = f"[data-testid=tower-row][data-driver={driver}] td:nth-child(4)"
                started = time.perf_counter()
                folder.land(folder.laps_path, lap)
                page.wait_for_function(f"Number(document.querySelector('{cell}')?.innerText) >= {number}")
                delays.append(time.perf_counter() - started)
            browser.close()
    print(
        f"first render (signed in, navigation to the filled tower): median {statistics.median(renders) * 1000:.0f} ms, "
        f"max {max(renders) * 1000:.0f} ms over {len(renders)}"
    )
    print(
        f"a landed lap on screen: median {statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms "
        f"over {len(delays)} laps"
    )
    print(f"the app's JavaScript: {js / 1000:.0f} kB gzipped, of which the first page loads {first_js / 1000:.0f} kB")


if __name__ == "__main__":
    main()
