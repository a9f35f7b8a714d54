"""qcode: deductive qualitative coding of interview transcripts, offline."""

from .codebook import default_codebook_path, load_codebook
from .config import Config
from .errors import InputError
from .run import RunResult, code_corpus
from .schemas import (
    Code,
    Codebook,
    Excerpt,
    GoldItem,
    Passage,
    Review,
    Suggestion,
    Theme,
    Transcript,
    Turn,
)
from .version import __version__

__all__ = [
    "Code",
    "Codebook",
    "Config",
    "Excerpt",
    "GoldItem",
    "InputError",
    "Passage",
    "Review",
    "RunResult",
    "Suggestion",
    "Theme",
    "Transcript",
    "Turn",
    "__version__",
    "code_corpus",
    "default_codebook_path",
    "load_codebook",
]
