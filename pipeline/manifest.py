"""manifest.json of `qcode code`: what made an output folder, typed, so that writing it,
`qcode reproduce`, the review page and the exports read the same fields.

It holds no timestamps and no absolute paths that were not given, so the same inputs and
config give a byte-identical manifest (keys sorted, two-space indent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import Config
from .errors import InputError, validation_messages
from .io import atomic_write
from .outputs import COUNTS, EXCERPTS, SOURCES


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FileRecord(_Part):
    path: str
    sha256: str


class InputRecord(FileRecord):
    transcripts: list[str]


class CodebookRecord(FileRecord):
    name: str
    version: str


class ExportedModel(_Part):
    file: str
    sha256: str


class ModelRecord(_Part):
    id: str
    fingerprint: str
    weights_sha256: str | None
    backend: str
    exported_model: ExportedModel | None = None  # ONNX backends: the file exported here
    device: str = "cpu"  # where the passages were embedded: cpu, cuda (or both, on a cluster)


class RedactionRecord(_Part):
    """What `--pseudonymise` used (the key itself is never recorded here)."""

    names: FileRecord | None = None
    keep: FileRecord | None = None


class Totals(_Part):
    transcripts: int
    passages: int
    coded_passages: int
    by_code: dict[str, int]
    reviews_kept: int
    reviews_orphaned: int


class OutputHashes(_Part):
    excerpts: str = Field(alias=EXCERPTS)
    counts: str = Field(alias=COUNTS)
    sources: dict[str, str] = Field(alias=SOURCES)


class LiveModelRecord(_Part):
    """A model the review page learned while reviewers worked (reviewing/live.py), or an
    embedding model it fine-tuned and used (reviewing/retune.py)."""

    model: str  # live-N, or ft-N for a fine-tuned encoder
    path: str  # live/vN (live/ftN/encoder), inside the output folder
    decisions: int
    seconds: float
    sha256: str | None = None
    chosen: str | None = None  # live-N: whose suggestions the page showed (reviewing/choice.py)
    encoder: str | None = None  # live-N: the fine-tuned encoder it learned on (live/ftN/encoder)
    check: dict | None = None  # ft-N: wrong suggestions on held-out decisions, tuned and in use
    top_layers: int | None = None  # ft-N: layers tuned


class LearnedModelRecord(_Part):
    """The learned model a run tagged with (`qcode code --model`): a copy kept in the study
    folder (`path`, relative to it: models/SHA12), its identity, and where it came from."""

    path: str
    sha256: str
    given: str  # the --model path as given
    encoder: str | None = None  # a fine-tuned model's encoder folder (not copied: config.model names it)


class Manifest(_Part):
    qcode_version: str
    command: Literal["code"] = "code"
    codebook: CodebookRecord
    model: ModelRecord
    segmenter: dict[str, str]
    tagger: dict  # the tagger's own settings (strategy, C, learned codes, ...)
    config: Config
    attributes_files: list[FileRecord]
    inputs: list[InputRecord]
    errors: list[str]
    totals: Totals
    outputs: OutputHashes
    redaction: RedactionRecord | None = None
    engine: str = "local"  # where segmenting and embedding ran: local, or dask ADDRESS
    live_models: list[LiveModelRecord] = []  # models learned on the review page, newest last
    learned_model: LearnedModelRecord | None = None  # the model of `qcode code --model`

    def dumps(self) -> str:
        data = self.model_dump(mode="json", by_alias=True, exclude_none=False)
        if data["model"].get("exported_model") is None:
            data["model"].pop("exported_model", None)
        if data.get("redaction") is None:
            data.pop("redaction", None)
        if not data.get("live_models"):
            data.pop("live_models", None)
        if data.get("learned_model") is None:
            data.pop("learned_model", None)
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def write(self, path: Path) -> None:
        with atomic_write(path) as f:
            f.write(self.dumps())

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """A `qcode code` manifest; a missing or malformed one is an error naming it."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(path, f"not a readable manifest: {err}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise InputError(path, "; ".join(validation_messages(err))) from None

    def with_live_models(self, out_dir: Path) -> Manifest:
        """This manifest naming every model in the folder's live/index.jsonl."""
        from .outputs import LIVE, LIVE_INDEX

        index = Path(out_dir) / LIVE / LIVE_INDEX
        records = []
        if index.is_file():
            for line in index.read_text(encoding="utf-8").splitlines():
                try:
                    records.append(LiveModelRecord.model_validate_json(line))
                except ValidationError:
                    continue  # a line cut short by a crash: that model is not named
        return self.model_copy(update={"live_models": records})
