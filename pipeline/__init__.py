"""qcode: deductive qualitative coding of interview transcripts, offline."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qcode")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

from .codebook import default_codebook_path, load_codebook  # noqa: E402
from .config import Config  # noqa: E402
from .errors import InputError  # noqa: E402
from .run import RunResult, code_corpus  # noqa: E402
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
)  # noqa: E402

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
