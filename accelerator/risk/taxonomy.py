"""The product-category taxonomy: slash paths with a hazard class, a rationale and a NAICS code.

Loaded once from ``accelerator/risk/data/categories.toml`` and validated with msgspec.
"""

import difflib
import functools
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
from msgspec import Meta

DATA_FILE: Final = Path(__file__).resolve().parent / "data" / "categories.toml"

HazardClass = Annotated[int, Meta(ge=1, le=5)]
_PATH_PATTERN: Final = r"^[a-z0-9-]+(/[a-z0-9-]+)*$"


class CategoryData(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One category as written in the data file."""

    hazard_class: HazardClass
    rationale: Annotated[str, Meta(min_length=1, max_length=200)]
    naics: Annotated[str, Meta(pattern=r"^[0-9]{2,6}$")] | None = None


class TaxonomyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole taxonomy data file."""

    taxonomy_version: str
    # Entries are converted one by one (see _load) so an error can name the category's key.
    categories: dict[Annotated[str, Meta(pattern=_PATH_PATTERN)], dict[str, Any]]


@dataclass(frozen=True)
class Category:
    """A known product category."""

    path: str
    hazard_class: int
    rationale: str
    naics: str | None

    @property
    def parent(self) -> str | None:
        """The parent path, or None for a top-level category."""
        head, _, _ = self.path.rpartition("/")
        return head or None


# What a path segment cannot spell: apostrophes, acronyms, words that keep their hyphen.
_SEGMENTS: Final = {
    "coffee-tea": "coffee and tea",
    "games-puzzles": "games and puzzles",
    "lithium-ion": "lithium-ion",
    "ride-on": "ride-on",
    "t-shirts": "T-shirts",
}
_WORDS: Final = {"childrens": "children's", "led": "LED"}


def category_label(path: str) -> str:
    """``electronics/lighting/led-strips`` -> ``Electronics › Lighting › LED strips``."""
    return " › ".join(_segment_label(segment) for segment in path.split("/"))


def _segment_label(segment: str) -> str:
    text = _SEGMENTS.get(segment)
    if text is None:
        words: list[str] = []
        for word in segment.split("-"):
            # A one-letter word is a prefix: "e-bikes", not "e bikes".
            if words and len(words[-1]) == 1:
                words[-1] += "-" + word
            else:
                words.append(_WORDS.get(word, word))
        text = " ".join(words)
    return text[:1].upper() + text[1:]


class TaxonomyError(Exception):
    """The taxonomy data file is invalid; the message names the file and the field."""


class UnknownCategoryError(LookupError):
    """A category path is not in the taxonomy; ``suggestions`` holds the closest known paths."""

    def __init__(self, path: str, suggestions: tuple[str, ...]) -> None:
        self.path = path
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown product category {path!r}{hint}")


@dataclass(frozen=True)
class Taxonomy:
    """All known categories by path. Immutable."""

    version: str
    _categories: Mapping[str, Category]

    def __contains__(self, path: object) -> bool:
        return path in self._categories

    def __iter__(self) -> Iterator[Category]:
        return iter(self._categories.values())

    def __len__(self) -> int:
        return len(self._categories)

    def get(self, path: str) -> Category:
        """The category at ``path``; raises UnknownCategoryError with suggestions."""
        try:
            return self._categories[path]
        except KeyError:
            raise UnknownCategoryError(path, self.suggest(path)) from None

    def suggest(self, path: str, limit: int = 3) -> tuple[str, ...]:
        """Up to ``limit`` known paths closest to ``path``, best first."""
        wanted = path.strip().lower().replace(" ", "-").replace("_", "-")
        paths = list(self._categories)
        by_path = difflib.get_close_matches(wanted, paths, n=limit, cutoff=0.6)
        # Also match on the last segment, so "power-bank" finds "electronics/power-banks".
        leaves: dict[str, list[str]] = {}
        for known in paths:
            leaves.setdefault(known.rsplit("/", 1)[-1], []).append(known)
        leaf = wanted.rsplit("/", 1)[-1]
        by_leaf = [
            known
            for match in difflib.get_close_matches(leaf, list(leaves), n=limit, cutoff=0.6)
            for known in leaves[match]
        ]
        return tuple(dict.fromkeys([*by_path, *by_leaf]))[:limit]


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The taxonomy from the shipped file (or ``path``), read and validated once per file.

    Raises TaxonomyError naming the file and the offending field.
    """
    return _load((path or DATA_FILE).resolve())


@functools.cache
def _load(path: Path) -> Taxonomy:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        data = msgspec.convert(raw, TaxonomyFile)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise TaxonomyError(f"{path}: {exc}") from None
    categories: dict[str, Category] = {}
    for key, raw_entry in sorted(data.categories.items()):
        at = f'$.categories["{key}"]'
        try:
            entry = msgspec.convert(raw_entry, CategoryData)
        except msgspec.ValidationError as exc:
            raise TaxonomyError(f"{path}: {str(exc).replace('`$', '`' + at)}") from None
        parent, _, _ = key.rpartition("/")
        if parent and parent not in data.categories:
            raise TaxonomyError(f"{path}: parent category {parent!r} is missing - at `{at}`")
        categories[key] = Category(
            path=key, hazard_class=entry.hazard_class, rationale=entry.rationale, naics=entry.naics
        )
    return Taxonomy(version=data.taxonomy_version, _categories=categories)
