"""The product-category taxonomy data and look-ups."""

from pathlib import Path

import pytest

from accelerator.risk import Taxonomy, TaxonomyError, UnknownCategoryError, load_taxonomy


def test_taxonomy_has_at_least_sixty_categories_with_valid_hazard_classes(
    taxonomy: Taxonomy,
) -> None:
    assert len(taxonomy) >= 60
    assert all(1 <= c.hazard_class <= 5 and c.rationale for c in taxonomy)


def test_every_category_parent_is_itself_a_category(taxonomy: Taxonomy) -> None:
    for category in taxonomy:
        if category.parent is not None:
            assert category.parent in taxonomy


@pytest.mark.parametrize(
    ("path", "hazard_class"),
    [
        ("electronics/batteries/lithium-ion", 5),
        ("electronics/power-banks", 5),
        ("baby/car-seats", 5),
        ("health/dietary-supplements", 4),
        ("home/furniture", 3),
        ("toys/ride-on", 4),
        ("beauty/cosmetics", 3),
        ("apparel/t-shirts", 1),
    ],
)
def test_named_categories_have_the_expected_hazard_class(
    taxonomy: Taxonomy, path: str, hazard_class: int
) -> None:
    assert taxonomy.get(path).hazard_class == hazard_class


def test_naics_codes_are_digits_where_given(taxonomy: Taxonomy) -> None:
    codes = [c.naics for c in taxonomy if c.naics is not None]
    assert len(codes) > 60
    assert all(code.isdigit() and 2 <= len(code) <= 6 for code in codes)


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("electronics/powerbanks", "electronics/power-banks"),
        ("electronics/power-bank", "electronics/power-banks"),
        ("power-banks", "electronics/power-banks"),
        ("baby/carseats", "baby/car-seats"),
        ("health/dietary-suplements", "health/dietary-supplements"),
    ],
)
def test_unknown_category_suggests_close_ones(
    taxonomy: Taxonomy, asked: str, expected: str
) -> None:
    with pytest.raises(UnknownCategoryError) as caught:
        taxonomy.get(asked)
    assert expected in caught.value.suggestions
    assert caught.value.path == asked
    assert expected in str(caught.value)


def test_unrelated_category_gets_no_suggestions(taxonomy: Taxonomy) -> None:
    with pytest.raises(UnknownCategoryError) as caught:
        taxonomy.get("zzzz/qqqq")
    assert caught.value.suggestions == ()


def test_broken_taxonomy_file_names_the_file_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "categories.toml"
    broken.write_text(
        'taxonomy_version = "x"\n[categories]\n"toys" = { hazard_class = 9, rationale = "r" }\n',
        encoding="utf-8",
    )
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(broken)
    assert str(broken) in str(caught.value)
    assert 'Expected `int` <= 5 - at `$.categories["toys"].hazard_class`' in str(caught.value)


def test_taxonomy_rejects_a_category_without_its_parent(tmp_path: Path) -> None:
    broken = tmp_path / "categories.toml"
    broken.write_text(
        'taxonomy_version = "x"\n[categories]\n'
        '"toys/plush" = { hazard_class = 2, rationale = "r" }\n',
        encoding="utf-8",
    )
    with pytest.raises(TaxonomyError, match="parent category 'toys' is missing"):
        load_taxonomy(broken)


def test_taxonomy_is_loaded_once() -> None:
    assert load_taxonomy() is load_taxonomy()
