"""The review page screenshot in the README: `make demo` output, a few keyed decisions.

    .venv/bin/python scripts/review_screenshot.py [out/demo] [-o docs/review-page.png]

Works on a copy of the folder, so out/demo keeps no decisions from it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser import Server, chrome  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, nargs="?", default=REPO / "out" / "demo")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "review-page.png")
    args = ap.parse_args()
    from selenium.webdriver.common.action_chains import ActionChains

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "demo"
        shutil.copytree(args.folder, work)
        server = Server([str(work), "--reviewer", "ana"], Path(tmp) / "cache")
        driver = chrome(1400, 980)
        try:
            driver.get(server.url)
            while driver.execute_script("return document.body.dataset.ready") != "1":
                time.sleep(0.05)
            for keys in ("a", "x", "2a", "a"):
                before = driver.execute_script("return Number(document.body.dataset.saved || 0)")
                ActionChains(driver).send_keys(keys).perform()
                while driver.execute_script("return Number(document.body.dataset.saved || 0)") <= before:
                    time.sleep(0.05)
            ActionChains(driver).send_keys("4").perform()  # a code selected: its examples show
            time.sleep(0.5)
            driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
            driver.save_screenshot(str(args.out))
        finally:
            driver.quit()
            server.stop()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
