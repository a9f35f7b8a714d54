"""The review page's web app over HTTP: keys, CSRF, host check, body limit, bad requests,
and no file read from outside the served folder."""

import re

import pytest
from fastapi.testclient import TestClient

from pipeline import load_codebook
from pipeline.errors import InputError
from pipeline.reviewing.app import MAX_BODY, create_app
from pipeline.reviewing.serve import check_host, resolve_target
from pipeline.reviewing.session import ReviewSession, Served
from pipeline.store import read_excerpts

from .test_review import load, make_output

TOKEN = "k" * 32


def client(tmp_path, **kw):
    _, path = make_output(tmp_path)
    cb = load_codebook()
    s = ReviewSession(Served(tmp_path / "out", path, "ana", cb, 0.5), compact_after=60)
    return TestClient(create_app(s, token=TOKEN, **kw), base_url="http://127.0.0.1:8765"), path


def signed_in(c):
    r = c.get(f"/?key={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = c.get("/")
    csrf = re.search(r'name="qcode-csrf" content="([0-9a-f]{64})"', page.text).group(1)
    return {"X-QCode-CSRF": csrf}


def test_the_page_and_api_need_the_key_then_the_csrf_header(tmp_path):
    c, path = client(tmp_path)
    assert c.get("/").status_code == 403
    assert c.get("/?key=wrong").status_code == 403
    assert c.get("/api/state").status_code == 403
    headers = signed_in(c)
    page = c.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"] and "<script>" not in page.text
    assert c.get("/api/state").status_code == 403  # cookie alone is not enough
    pid = load(path)[0].id
    assert (
        c.post("/api/decide", json={"id": pid, "action": "reject"}).status_code == 403
    )  # a cross-site form post has no header
    assert read_excerpts(path)[0].review.status == "pending"
    r = c.post("/api/decide", json={"id": pid, "action": "reject"}, headers=headers)
    assert r.status_code == 200 and read_excerpts(path)[0].review.status == "rejected"
    fresh = TestClient(c.app, base_url="http://127.0.0.1:8765")  # another browser, no cookie
    assert fresh.get("/api/state", headers=headers).status_code == 403


def test_other_hosts_big_bodies_and_bad_requests_get_4xx_with_a_message(tmp_path):
    c, path = client(tmp_path)
    headers = signed_in(c)
    evil = TestClient(c.app, base_url="http://evil.example:8765")
    assert evil.get(f"/?key={TOKEN}").status_code == 400  # DNS rebinding: refused by Host
    pid = load(path)[0].id
    big = c.post(
        "/api/decide",
        content=b"{" + b" " * (MAX_BODY + 10) + b"}",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert big.status_code == 413 and "over" in big.json()["detail"]
    chunked = c.post(
        "/api/decide",
        content=iter([b"{", b" " * (MAX_BODY + 10), b"}"]),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    r = c.post("/api/decide", json={"id": pid, "action": "accept", "codes": ["made_up"]}, headers=headers)
    assert r.status_code == 422 and "made_up" in r.json()["detail"]
    assert c.post("/api/decide", json={"id": pid, "action": "maybe"}, headers=headers).status_code == 422
    assert c.post("/api/decide", json={"id": pid, "action": "accept", "extra": 1}, headers=headers).status_code == 422
    assert c.get("/api/passage", params={"id": "nope"}, headers=headers).status_code == 404
    assert c.get("/api/queue", params={"code": "made_up"}, headers=headers).status_code == 422
    assert all(e.review.status == "pending" for e in read_excerpts(path))


def test_nothing_outside_the_served_folder_is_read(tmp_path):
    c, path = client(tmp_path)
    headers = signed_in(c)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    for name in ("../secret.txt", "..%2Fsecret.txt", "%2e%2e/%2e%2e/secret.txt", "index.html"):
        r = c.get(f"/static/{name}")
        assert r.status_code == 404 and "TOP SECRET" not in r.text
    # a transcript id that tries to climb out of sources/ maps to a safe name inside it
    lines = path.read_text().splitlines()
    first = load(path)[0]
    forged = first.model_copy(update={"id": "x:1", "transcript": "../../secret"})
    path.write_text("\n".join([*lines, forged.model_dump_json()]) + "\n")
    p = c.get("/api/passage", params={"id": "x:1"}, headers=headers).json()
    assert "TOP SECRET" not in (p["before"] + p["after"])


def test_loopback_unless_exposed():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_host(host, expose=False)
    for host in ("0.0.0.0", "192.168.1.10", "example.org"):
        with pytest.raises(InputError, match="--expose"):
            check_host(host, expose=False)
    check_host("0.0.0.0", expose=True)


def test_targets(tmp_path):
    _, path = make_output(tmp_path)
    out = tmp_path / "out"
    assert resolve_target(out, reviewer="ana", own_copy=False).path == path
    assert resolve_target(path, reviewer="ana", own_copy=False).root == out
    copy = resolve_target(out, reviewer="ben", own_copy=True).path
    assert resolve_target(copy, reviewer="ben", own_copy=False).root == out  # sources/ from the folder above
    with pytest.raises(InputError, match="reviewer name"):
        resolve_target(out, reviewer="../x", own_copy=True)
    with pytest.raises(InputError, match="no excerpts.jsonl"):
        resolve_target(tmp_path, reviewer="ana", own_copy=False)


def test_expose_keeps_the_host_check_for_the_address_served():
    """Issue 24 #9: --expose no longer turns the Host check off on a named address."""
    from pipeline.reviewing.serve import allowed_hosts

    assert allowed_hosts("127.0.0.1", expose=False) is None  # the app's loopback default
    named = allowed_hosts("192.0.2.10", expose=True)
    assert "192.0.2.10" in named and "localhost" in named and "*" not in named
    assert "[2001:db8::1]" in allowed_hosts("2001:db8::1", expose=True)
    assert allowed_hosts("0.0.0.0", expose=True) == ["*"]


def test_each_server_has_its_own_cookie_whose_value_is_not_the_key(tmp_path):
    """Issue 24 #8: a second server in the same browser does not sign the first tab out,
    and the cookie never carries the key itself; a non-ASCII key or header is a 403."""
    from fastapi.testclient import TestClient

    app_a, path = client(tmp_path)
    s = app_a.app.state.session
    a = TestClient(create_app(s, token=TOKEN, port=8765), base_url="http://127.0.0.1:8765")
    a.get(f"/?key={TOKEN}", follow_redirects=False)
    ((name, value),) = a.cookies.items()
    assert name == "qcode_review_8765" and value != TOKEN and TOKEN not in value
    b = TestClient(create_app(s, token="another-key", port=8766), base_url="http://127.0.0.1:8766")
    b.cookies.set(name, value)  # the first server's cookie means nothing to the second
    assert b.get("/").status_code == 403
    assert a.get("/?key=%C3%A9", follow_redirects=False).status_code == 403


def test_lone_surrogates_and_nan_get_422_not_500(tmp_path):
    c, path = client(tmp_path)
    headers = {**signed_in(c), "content-type": "application/json"}
    pid = load(path)[0].id
    for body in (
        f'{{"id": "{pid}", "action": "reject", "note": "a\\ud800b"}}',  # a lone surrogate in a note
        '{"id": "x\\udc00", "action": "reject"}',  # ... in an id
        '{"code": "conflict", "min_score": NaN, "expected": 1}',  # a bare NaN
    ):
        url = "/api/bulk" if "min_score" in body else "/api/decide"
        r = c.post(url, content=body, headers=headers)
        assert r.status_code == 422 and r.json()["detail"].startswith("body.")
    assert read_excerpts(path)[0].review.status == "pending"


def test_a_journal_line_that_is_no_decision_is_kept_aside_and_the_page_goes_on(tmp_path, capsys):
    from pipeline.store import JournalEntry, journal_path, rejected_path

    c, path = client(tmp_path)
    headers = signed_in(c)
    ids = [e.id for e in load(path)]
    ghost = JournalEntry(id="ghost:1", review={"status": "rejected", "reviewer": "zed"}).model_dump_json()
    with open(journal_path(path), "a") as f:  # another tool appends while the page serves
        f.write("garbage line\n" + ghost + "\n")
    assert c.get("/api/stats", headers=headers).status_code == 200
    r = c.post("/api/decide", json={"id": ids[1], "action": "reject"}, headers=headers)
    assert r.status_code == 200
    err = capsys.readouterr().err
    assert f"{journal_path(path)}:1: not a decision" in err and "'ghost:1', which is not in excerpts.jsonl" in err
    c.app.state.session.compact()
    assert rejected_path(path).read_text().splitlines() == ["garbage line", ghost]  # nothing dropped
    assert read_excerpts(path)[1].review.status == "rejected" and not journal_path(path).exists()
