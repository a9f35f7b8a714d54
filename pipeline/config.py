"""One typed configuration for a run, written next to every output."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MODEL = "sentence-transformers/all-mpnet-base-v2"
# Short names for the packaged embedding models, accepted wherever a model id is.
MODEL_ALIASES = {
    "minilm": "sentence-transformers/all-MiniLM-L6-v2",
    "mpnet": "sentence-transformers/all-mpnet-base-v2",
}
DEFAULT_INTERVIEWER_LABELS = (
    "interviewer",
    "int",
    "i",
    "q",
    "facilitator",
    "moderator",
    "researcher",
)


class Config(BaseModel):
    """Settings that change what qcode writes. Everything here goes into manifest.json."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("model")
    @classmethod
    def _full_model_id(cls, value: str) -> str:
        return MODEL_ALIASES.get(value, value)

    # Each description is also the help of the command-line option that sets the field
    # (cli/common.py: config_option), so it is written once, here.
    model: str = Field(
        DEFAULT_MODEL,
        description=(
            "Embedding model: mpnet (all-mpnet-base-v2: best agreement), minilm (all-MiniLM-L6-v2: about 7x faster,"
            " lower agreement), a packaged model's id, or a local sentence-transformers folder"
        ),
    )
    backend: Literal["torch", "torch-bf16", "torch-fp16", "onnx", "onnx-int8"] = Field(
        "torch",
        description=(
            "Embedding backend: torch (fp32, the published weights), torch-bf16 (about 2x faster, same agreement),"
            " onnx (fp32) or onnx-int8 (2-3x faster; with minilm about the same agreement, with mpnet 0.03 kappa"
            " lower); torch-fp16 on a GPU. See docs/performance.md"
        ),
    )
    batch_size: int = Field(32, ge=1, description="Passages per embedding batch")
    target_words: int = Field(60, ge=1, description="Close a passage at the first sentence end past this many words")
    max_words: int = Field(
        120, ge=1, description="Never grow a passage past this many words unless one sentence is longer"
    )
    unit_words: int = Field(
        15,
        ge=1,
        description=(
            "Score each passage by runs of whole sentences of at least this many words; a code's best run counts (a"
            " large value scores whole passages)"
        ),
    )
    interviewer_labels: tuple[str, ...] = Field(
        DEFAULT_INTERVIEWER_LABELS,
        description="Speaker label of an interviewer, any case (repeatable); their turns are questions, not coded",
    )
    code_interviewer: bool = Field(False, description="Also code interviewer turns")
    text_column: str | None = Field(
        None, description="Survey CSV/XLSX: the column holding the answers (unset: text, response, answer or comment)"
    )
    id_column: str | None = Field(
        None,
        description=(
            "Survey CSV/XLSX: the column of respondent ids (unset: id, respondent id or response id in any spelling,"
            " as Qualtrics' ResponseId; else the row number)"
        ),
    )
    split_answers: bool = Field(
        False,
        description=(
            "Survey CSV/XLSX: split long answers into passages as interview turns are (unset: one passage per answer)"
        ),
    )
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Apply a code when its calibrated score reaches this")
    max_codes: int = Field(3, ge=1, description="At most this many codes per passage")
    every_passage_coded: bool = Field(
        False,
        description=(
            "Every passage carries a code (quotes or highlights someone already selected): each gets at least its"
            " best code, never none"
        ),
    )
    top_suggestions: int = Field(3, ge=0, description="Suggestions kept besides applied codes")
    seed: int = Field(42, description="The one seed for every random state")
    pseudonymise: bool = Field(
        False,
        description=(
            "Replace names, organisations, places and direct identifiers before anything is written (as qcode"
            " redact); the key goes to OUT/../OUT.pseudonym_key.csv"
        ),
    )
