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

    model: str = Field(
        DEFAULT_MODEL,
        description=(
            "embedding model: a packaged model's id or short name (minilm, mpnet), or a local sentence-transformers"
            " folder"
        ),
    )
    backend: Literal["torch", "torch-bf16", "torch-fp16", "onnx", "onnx-int8"] = Field(
        "torch",
        description=(
            "torch (fp32, the published weights), torch-bf16, torch-fp16 (GPU only), onnx (fp32) or onnx-int8 (faster)"
        ),
    )
    batch_size: int = Field(32, ge=1, description="passages per embedding batch")
    target_words: int = Field(60, ge=1, description="a passage closes at the first sentence end past this many words")
    max_words: int = Field(120, ge=1, description="a passage never grows past this unless one sentence is longer")
    unit_words: int = Field(
        15,
        ge=1,
        description=(
            "passages are scored by runs of whole sentences of at least this many words, each code's best run counting"
        ),
    )
    interviewer_labels: tuple[str, ...] = Field(
        DEFAULT_INTERVIEWER_LABELS,
        description="speaker labels (case-insensitive) whose turns are questions, not coded",
    )
    code_interviewer: bool = Field(False, description="also code interviewer turns")
    text_column: str | None = Field(
        None, description="survey CSV/XLSX: the column of free text [default: text, response, answer or comment]"
    )
    id_column: str | None = Field(
        None,
        description=(
            "survey CSV/XLSX: the column of respondent ids [default: id, respondent id, response id (Qualtrics"
            " ResponseId, SurveyMonkey Respondent ID), else row number]"
        ),
    )
    split_answers: bool = Field(
        False,
        description=(
            "survey CSV/XLSX: split long answers into passages as interview turns are [default: one passage per answer]"
        ),
    )
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="apply a code when its calibrated score reaches this")
    max_codes: int = Field(3, ge=1, description="at most this many codes per passage")
    top_suggestions: int = Field(3, ge=0, description="suggestions kept besides applied codes")
    seed: int = Field(42, description="the one seed for every random state")
    pseudonymise: bool = Field(
        False,
        description=(
            "replace names, organisations, places and direct identifiers before anything is written (qcode redact)"
        ),
    )
