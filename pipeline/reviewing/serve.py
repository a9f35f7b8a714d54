"""`qcode review serve`: find what to serve, start the web server, fold decisions in on exit."""

from __future__ import annotations

import getpass
import ipaddress
import secrets
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..codebook import load_codebook
from ..errors import InputError
from ..outputs import EXCERPTS, REVIEWER_NAME, reviewer_copy
from ..study import Settings, for_reading, output_folder_of
from . import retune
from .live import Learning, LiveLearner
from .reviews import make_reviewer_copy
from .session import Order, ReviewSession, Served

LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True)
class Target:
    root: Path  # the output folder (its sources/ and manifest.json)
    path: Path  # the excerpts file decisions go to
    created: bool = False  # a reviewer's own copy made just now


def default_reviewer() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "reviewer"
    return name if REVIEWER_NAME.match(name) else "reviewer"


def resolve_target(path: Path, *, reviewer: str, own_copy: bool) -> Target:
    """A folder means its excerpts.jsonl, or with `own_copy` the reviewer's own copy in
    reviews/ (made from excerpts.jsonl, without decisions, the first time)."""
    path = Path(path)
    if path.is_dir():
        main = path / EXCERPTS
        if not main.is_file():
            raise InputError(path, f"no {EXCERPTS} here: run `qcode code ... --out {path}` first")
        if not own_copy:
            return Target(path, main)
        try:
            copy = reviewer_copy(path, reviewer)
        except ValueError as err:
            raise InputError(path, str(err)) from None
        return Target(path, copy, make_reviewer_copy(path, copy))
    if own_copy:
        raise InputError(path, "--own-copy needs an output folder, not a file")
    if not path.is_file():
        raise InputError(path, "no such file or folder")
    return Target(output_folder_of(path), path)


def live_learner(root: Path, settings: Settings, learning: Learning | None) -> LiveLearner | None:
    """The background learner, with the settings of the run that made the folder, learning
    from its learned model's labelled passages too. None when `learning` is None."""
    if learning is None:
        return None
    return LiveLearner(
        root,
        settings.codebook,
        settings.config,
        every=learning.every,
        cache_dir=learning.cache_dir,
        finetune=learning.finetune is not False,
        tune_from=learning.tune_from,
        device=learning.device,
        prior=settings.prior,
    )


def allowed_hosts(host: str, expose: bool) -> list[str] | None:
    """Host names the server answers to: loopback names (None: the app's default), plus
    with --expose the address it listens on; any name only when it listens on every
    interface (0.0.0.0 or ::), where the names it is reached by cannot be known."""
    if not expose:
        return None
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    shown = f"[{host}]" if ":" in host else host
    from .app import LOOPBACK_HOSTS

    return [*LOOPBACK_HOSTS, host, shown]


def check_host(host: str, expose: bool) -> None:
    """Loopback unless `expose`: anyone who can reach the port could read the transcripts."""
    if host in LOOPBACK_NAMES:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not expose:
        raise InputError(
            host,
            "not a loopback address: the page shows confidential transcripts; add --expose if you really mean to serve"
            " it to other machines",
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit this: without it a response written in two parts waits
    # for the browser's delayed ACK (about 40 ms per request on a kept-alive connection)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise InputError(f"{host}:{port}", f"cannot listen: {err.strerror or err}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def serve(
    path: Path,
    *,
    reviewer: str | None = None,
    own_copy: bool = False,
    codebook_path: Path | None = None,
    order: Order | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    expose: bool = False,
    announce: Callable[[str], None] = print,
    learning: Learning | None = Learning(),
) -> None:
    """Serve the review page until interrupted; on exit, decisions are folded into the file.

    >>> serve(Path("out/demo"), reviewer="ana")  # doctest: +SKIP
    """
    import uvicorn

    from .app import create_app

    check_host(host, expose)
    reviewer = reviewer or default_reviewer()
    target = resolve_target(path, reviewer=reviewer, own_copy=own_copy)
    session = open_session(target, reviewer, codebook_path, order, learning)
    token = secrets.token_urlsafe(24)
    sock = bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/?key={token}"
    hosts = allowed_hosts(host, expose)
    app = create_app(session, token=token, hosts=hosts, port=sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    # uvicorn shuts down gracefully on SIGINT/SIGTERM while it runs, then re-raises the
    # signal to the handler that was there before; a SIGTERM before it runs (or after)
    # asks it to stop through the same flag: these end through `finally`, exit 0
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: _stop(server))
    try:
        _announce_start(announce, target, reviewer, url, hosts if expose else None, session.served.live)
        if order is None and session.served.order == "file":
            announce("after an import: file order, transcript after transcript (--order queue: most uncertain first)")
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C: stop as cleanly
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        session.close()  # fold the journal into the file
        sock.close()
    announce(f"stopped; decisions are in {target.path}")


def open_session(
    target: Target, reviewer: str, codebook_path: Path | None, order: Order | None, learning: Learning | None
) -> ReviewSession:
    """The session a page serves: the study's codebook, threshold, live learner, the
    passages its batch model learned from, and its order (by default, default_order)."""
    settings = for_reading(target.root, codebook_path)
    codebook = load_codebook(settings.codebook)
    live = live_learner(target.root, settings, learning)
    order = order or default_order(settings.prior, learning)
    served = Served(
        target.root, target.path, reviewer, codebook, settings.config.threshold, order, live, settings.learned
    )
    return ReviewSession(served)


def default_order(prior: Path | None, learning: Learning | None) -> Order:
    """File order where the batch run's model learned from coded passages (`prior`: an
    import, say) and the page learns as you go; else the queue. After an import, reviewing
    transcript after transcript, with suggestions that follow each one (context.py), made
    the fewest wrong suggestions on every dev set (docs/reviewing.md); on a bare codebook
    the queue meets every code first (first_queue.py)."""
    return "file" if prior is not None and learning is not None else "queue"


def _announce_start(announce, target: Target, reviewer: str, url: str, exposed_hosts: list[str] | None, live) -> None:
    if target.created:
        announce(f"made {target.path} (a copy of {EXCERPTS} for {reviewer}, without decisions)")
    announce(f"reviewing {target.path} as {reviewer}: open {url}")
    if exposed_hosts is not None:
        names = (
            "any Host name is accepted on every interface"
            if exposed_hosts == ["*"]
            else f"Host names accepted: {', '.join(dict.fromkeys(exposed_hosts))}"
        )
        announce(
            f"warning: --expose serves plain HTTP: the key and the transcripts cross the network unencrypted; {names}"
        )
    announce("keys: digits toggle codes, a/Enter accept, x no code, space skip, Backspace undo, n note; Ctrl+C stops")
    if live is not None:
        announce(
            f"learning as you review: a new model every {live.every} decisions (--no-learn to keep the batch suggestions)"
        )
        if live.finetune:
            announce(
                f"fine-tuning the embedding model in the background after {live.first_tune_at} decisions"
                f"{f' (with the {live.prior_passages} imported passages)' if live.prior_passages else ''}, then every"
                f" {retune.EVERY} more (used only when it beats the one in use on decisions it did not learn from)"
            )


def _stop(server) -> None:
    """SIGTERM: ask uvicorn to stop (before it starts, it then starts and stops at once).
    A flag, not an exception: a signal handled while Python runs a weakref callback or a
    __del__ has its exception ignored there, and the page would serve on (seen in CI)."""
    server.should_exit = True
