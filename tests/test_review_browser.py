"""The review page end to end: real `qcode code` output (spaCy, the MiniLM model), a real
`qcode review serve` process, and headless Chromium driven by keys alone."""

import json
import shutil
import time

import pytest
import yaml

from pipeline.codebook import default_codebook_path, load_codebook
from pipeline.schemas import final_codes
from pipeline.store import read_excerpts

from .browser import Server, chrome, need_browser, run_qcode, screenshot
from .conftest import SAMPLE, write

pytestmark = pytest.mark.slow

XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '"><img src=x onerror="window.__xss=2">'
XSS_TRANSCRIPT = f"""Interviewer: What happened at the board? {XSS_IMG}
Participant: We argued about the budget for weeks {XSS_SCRIPT} and then we finally sat down together and agreed how the money would be shared out between the council and the trust.
Interviewer: And afterwards?
Participant: Afterwards the relationships were better than before, honestly, because we had said the difficult things out loud and nobody walked away from the table.
"""


@pytest.fixture(scope="module")
def coded(tmp_path_factory, cache_dir):
    """An output folder coded with the real pipeline: a sample interview and a transcript
    full of markup, against a codebook whose names and definitions carry markup too."""
    need_browser()
    base = tmp_path_factory.mktemp("review-browser")
    inputs = base / "in"
    inputs.mkdir()
    shutil.copy(SAMPLE / "icb_01.txt", inputs / "icb_01.txt")
    write(inputs / "a_markup.txt", XSS_TRANSCRIPT)
    book = yaml.safe_load(default_codebook_path().read_text())
    book["codes"][0]["name"] = "Safe <i>environment</i>"
    book["codes"][0]["definition"] += ' <img src=x onerror="window.__xss=3">'
    codebook = base / "codebook.yaml"
    codebook.write_text(yaml.safe_dump(book, sort_keys=False))
    run_qcode(
        ["code", str(inputs), "--out", str(base / "out"), "-e", "minilm", "--codebook", str(codebook), "-q"], cache_dir
    )
    return base


def fresh(coded, tmp_path):
    shutil.copytree(coded, tmp_path / "w")
    return tmp_path / "w"


def press(driver, *keys):
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(driver)
    for key in keys:
        chain.send_keys(key)
    chain.perform()


def wait(driver, condition, seconds=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(lambda d: d.execute_script(condition))


def current(driver) -> str:
    return driver.execute_script("return document.body.dataset.passage")


def saved(driver) -> int:
    return int(driver.execute_script("return document.body.dataset.saved || '0'"))


def decide_with_keys(driver, *keys):
    """Press keys on the current passage and wait for the decision to be saved."""
    before = saved(driver)
    press(driver, *keys)
    wait(driver, f"return Number(document.body.dataset.saved || 0) > {before}")


def open_page(driver, server):
    driver.get(server.url)
    wait(driver, "return document.body.dataset.ready === '1'")


def by_id(path):
    return {e.id: e for e in read_excerpts(path)}


def test_keyboard_review_undo_note_reload_edit_and_a_rerun(coded, tmp_path, cache_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    work = fresh(coded, tmp_path)
    out, main = work / "out", work / "out" / "excerpts.jsonl"
    machine = {e.id: e.codes for e in read_excerpts(main)}
    code_ids = load_codebook(work / "codebook.yaml").code_ids
    server = Server([str(out), "--reviewer", "ana"], cache_dir)
    driver = chrome()
    try:
        open_page(driver, server)
        p1 = current(driver)
        decide_with_keys(driver, "a")  # the machine was right: one key
        assert by_id(main)[p1].review.status == "accepted"
        assert final_codes(by_id(main)[p1]) == machine[p1]

        p2 = current(driver)
        decide_with_keys(driver, "1", Keys.ENTER)  # toggle code 1, accept: two keys
        want = [c for c in code_ids if (c in machine[p2]) != (c == code_ids[0])]
        got = by_id(main)[p2]
        assert final_codes(got) == want and got.review.status == ("corrected" if want else "rejected")

        p3 = current(driver)
        decide_with_keys(driver, "x")
        assert by_id(main)[p3].review.status == "rejected" and by_id(main)[p3].review.reviewer == "ana"

        p4 = current(driver)
        press(driver, "n")
        wait(driver, "return document.activeElement.id === 'note'")
        press(driver, "ask the team", Keys.ENTER)
        decide_with_keys(driver, "a")
        assert by_id(main)[p4].review.note == "ask the team"

        p5 = current(driver)
        press(driver, Keys.SPACE)  # skip
        wait(driver, f"return document.body.dataset.passage !== {json.dumps(p5)}")
        assert by_id(main)[p5].review.status == "pending"

        press(driver, Keys.BACKSPACE)  # undo p4
        wait(driver, f"return document.body.dataset.passage === {json.dumps(p4)}")
        assert by_id(main)[p4].review.status == "pending"
        screenshot(driver, "review-page.png")

        driver.refresh()  # decisions persist
        wait(driver, "return document.body.dataset.ready === '1'")
        assert driver.find_element(By.ID, "progress-text").text.startswith(f"3 / {len(machine)} decided")
        recent = [li.get_attribute("data-id") for li in driver.find_elements(By.CSS_SELECTOR, "#recent li[data-id]")]
        assert recent == [p3, p2, p1]
        texts = {e.id: e for e in read_excerpts(main)}
        first_title = driver.find_element(By.CSS_SELECTOR, "#recent li[data-id]").get_attribute("title")
        assert first_title.startswith(f"{texts[p3].transcript}: {texts[p3].text}")  # the whole passage, not cut
        assert driver.execute_script("return fmtScore(0.499)") == "0.49"  # not shown as 0.50, which would apply
        on_screen = machine[current(driver)]
        for button in driver.find_elements(By.CSS_SELECTOR, "#codes button"):
            assert ("machine applied" in button.get_attribute("title")) == (
                button.get_attribute("data-code") in on_screen
            )
        assert "3 decided passage(s)" in driver.find_element(By.ID, "kappa-on").text

        driver.find_element(By.CSS_SELECTOR, f'#recent li[data-id="{p3}"]').click()  # edit a decision
        wait(driver, f"return document.body.dataset.passage === {json.dumps(p3)}")
        decide_with_keys(driver, "2", "a")
        assert final_codes(by_id(main)[p3]) == [code_ids[1]]

        # `qcode code` reruns while the page is open; p2's passage changes, so its decision
        # moves to orphaned_reviews.jsonl; nothing is lost and the page goes on
        source = work / "in" / "icb_01.txt" if p2.startswith("icb_01") else work / "in" / "a_markup.txt"
        text = by_id(main)[p2].text
        source.write_text(source.read_text().replace(text, text.replace(" ", "  ", 1) + " Indeed."))
        run_qcode(
            [
                "code",
                str(work / "in"),
                "--out",
                str(out),
                "-e",
                "minilm",
                "--codebook",
                str(work / "codebook.yaml"),
                "-q",
            ],
            cache_dir,
            check=False,
        )
        after = by_id(main)
        orphans = [json.loads(x) for x in (out / "orphaned_reviews.jsonl").read_text().splitlines()]
        assert p2 not in after and [o["id"] for o in orphans] == [p2]
        assert final_codes(after[p1]) == machine[p1] and final_codes(after[p3]) == [code_ids[1]]
        driver.refresh()
        wait(driver, "return document.body.dataset.ready === '1'")
        p6 = current(driver)
        decide_with_keys(driver, "x")
        assert by_id(main)[p6].review.status == "rejected"
    finally:
        driver.quit()
        assert server.stop() == 0
    assert not (out / "excerpts.jsonl.journal").exists()  # folded in on shutdown
    done = run_qcode(["review", "check", str(main), "--codebook", str(work / "codebook.yaml")], cache_dir)
    assert "ok:" in done.stdout


def test_transcript_and_codebook_markup_shows_as_text(coded, tmp_path, cache_dir):
    from selenium.webdriver.common.by import By

    work = fresh(coded, tmp_path)
    server = Server([str(work / "out"), "--reviewer", "ana", "--order", "file"], cache_dir)
    driver = chrome()
    try:
        open_page(driver, server)
        assert current(driver).startswith("a_markup")
        passage = driver.find_element(By.ID, "passage").text
        assert XSS_SCRIPT in passage
        assert XSS_IMG.strip() in driver.find_element(By.ID, "question").text
        toggle = driver.find_element(By.CSS_SELECTOR, "#codes .code .name")
        assert toggle.text == "Safe <i>environment</i>"
        toggle.click()  # focus shows the definition
        definition = driver.find_element(By.ID, "definition").text
        assert 'onerror="window.__xss=3"' in definition
        decide_with_keys(driver, "x")
        assert XSS_SCRIPT in driver.find_element(By.ID, "recent").text
        screenshot(driver, "review-page-markup.png")
        assert driver.execute_script("return window.__xss") is None
        assert driver.find_elements(By.CSS_SELECTOR, "main img, header img") == []
        assert len(driver.find_elements(By.TAG_NAME, "script")) == 1  # only /static/app.js
    finally:
        driver.quit()
        server.stop()


def test_a_second_reviewer_codes_an_own_copy_then_merge_and_agreement(coded, tmp_path, cache_dir):
    work = fresh(coded, tmp_path)
    out = work / "out"
    ana = Server([str(out), "--reviewer", "ana", "--order", "file"], cache_dir)
    ben = Server([str(out), "--reviewer", "ben", "--own-copy", "--order", "file"], cache_dir)
    assert any("made" in line and "ben.jsonl" in line for line in ben.output)
    driver = chrome()
    try:
        open_page(driver, ana)
        first = current(driver)
        decide_with_keys(driver, "a")
        decide_with_keys(driver, "a")
        open_page(driver, ben)
        assert current(driver) == first  # ben's copy has none of ana's decisions
        decide_with_keys(driver, "x")
        decide_with_keys(driver, "a")
    finally:
        driver.quit()
        ana.stop()
        ben.stop()
    copy = out / "reviews" / "ben.jsonl"
    assert by_id(copy)[first].review.reviewer == "ben" and by_id(out / "excerpts.jsonl")[first].review.reviewer == "ana"
    merged = work / "merged.jsonl"
    run_qcode(["review", "merge", str(out / "excerpts.jsonl"), str(copy), "-o", str(merged)], cache_dir)
    rows = {e.id: e for e in read_excerpts(merged)}
    assert {r.reviewer for r in rows[first].reviews} == {"ana", "ben"}
    assert rows[first].disagreement == bool(by_id(out / "excerpts.jsonl")[first].codes)
    agreement = run_qcode(["agreement", str(out / "excerpts.jsonl"), str(copy), "--json"], cache_dir)
    report = json.loads(agreement.stdout)
    assert report["units"] == 2 and report["coders"] == ["ana", "ben"]


def test_the_page_learns_while_reviewing_and_a_kill_mid_relearn_loses_nothing(coded, tmp_path, cache_dir):
    """Decide by keys until a relearn happens: the next passages carry the live model's
    pre-selection; kill the server while the next relearn runs: every saved decision stays."""
    import signal

    work = fresh(coded, tmp_path)
    out = work / "out"
    server = Server([str(out), "--reviewer", "ana", "--relearn-every", "4"], cache_dir)
    driver = chrome()
    saved_ids = []
    try:
        driver.get(server.url)
        wait(driver, "return document.body.dataset.ready === '1'")
        assert driver.execute_script("return document.body.dataset.model") == "batch"
        for _i in range(4):  # "no code" on each: nothing to cross-check, so the first model is used
            saved_ids.append(current(driver))
            decide_with_keys(driver, "x")
        wait(driver, "return document.getElementById('live').textContent.includes('from live-1')", seconds=240)
        learning = driver.execute_script("return document.getElementById('live').textContent")
        assert "learned from 4 decisions" in learning
        for _ in range(30):  # passages the live model is surer of than the batch run show its suggestions
            if driver.execute_script("return document.body.dataset.model") == "live-1":
                break
            press(driver, " ")
            time.sleep(0.3)
        shown = driver.execute_script("return document.getElementById('model-line').textContent")
        assert "live-1" in shown and "learned while reviewing" in shown
        screenshot(driver, "review-live.png")
        models = []
        for _i in range(4):  # the next relearn starts after these...
            saved_ids.append(current(driver))
            models.append(driver.execute_script("return document.body.dataset.model"))
            decide_with_keys(driver, "x")
        assert (out / "live" / "v1" / "model.json").is_file()
        server.proc.send_signal(signal.SIGKILL)  # ... and the server dies while it runs
        server.proc.wait()
    finally:
        driver.quit()
        server.stop()
    rows = {e.id: e for e in read_excerpts(out / "excerpts.jsonl")}
    assert all(rows[pid].review.status != "pending" for pid in saved_ids)
    later = [rows[pid].review for pid in saved_ids[4:]]
    assert (
        [r.suggested_by for r in later] == models
        and models[0] == "live-1"
        and all(r.suggested is not None for r in later)
    )
    for folder in (out / "live").glob("v*"):  # a model cut short is only ever a hidden .vN.tmp
        assert (folder / "model.json").is_file() and (folder / "weights.npz").is_file()


EXTRA = [
    "Budget pressure", "Data sharing", "Estates", "Digital tools", "Patient voice", "Carers", "Housing",
    "Transport", "Primary care", "Mental health", "Social care market", "Workforce planning", "Training",
    "Regulation", "Elections", "Media", "Faith groups", "Schools", "Police", "Volunteers", "Weather",
]  # fmt: skip


def test_a_30_code_codebook_is_reviewed_with_keys_only(tmp_path, cache_dir):
    """Every code is reachable by key (`/` finds one by name), the definition box follows
    the passage, and the model that suggested is named beside Accept."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    need_browser()
    book = yaml.safe_load(default_codebook_path().read_text())
    for n, name in enumerate(EXTRA):
        book["codes"].append({"id": f"extra_{n}", "name": name, "definition": f"Talk about {name.lower()}."})
    codebook = write(tmp_path / "codebook.yaml", yaml.safe_dump(book, sort_keys=False))
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SAMPLE / "icb_01.txt", inputs / "icb_01.txt")
    out = tmp_path / "out"
    run_qcode(["code", str(inputs), "--out", str(out), "-e", "minilm", "--codebook", str(codebook), "-q"], cache_dir)
    target = f"extra_{EXTRA.index('Workforce planning')}"
    server = Server([str(out), "--reviewer", "ana", "--no-learn"], cache_dir)
    driver = chrome()
    try:
        open_page(driver, server)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#codes button")) == 30
        first = current(driver)
        assert driver.find_element(By.ID, "suggested-by").text == "suggested by the batch run"
        press(driver, "/")
        wait(driver, "return document.activeElement.id === 'code-find'")
        press(driver, "workforce")
        wait(driver, f"return document.querySelector('#codes button[data-code={target}]').classList.contains('match')")
        press(driver, Keys.ENTER)
        wait(driver, f"return document.querySelector('#codes button[data-code={target}]').ariaPressed === 'true'")
        decide_with_keys(driver, "a")
        assert target in (final_codes(by_id(out / "excerpts.jsonl")[first]) or [])
        second = current(driver)
        shown = driver.execute_script("return document.querySelector('#definition strong').textContent")
        top = by_id(out / "excerpts.jsonl")[second].suggestions[0].code
        names = {c["id"]: c["name"] for c in book["codes"]}
        assert shown == names[top] + ": "  # the box speaks of this passage's first suggestion
        screenshot(driver, "review_30_codes.png")
    finally:
        driver.quit()
        server.stop()
