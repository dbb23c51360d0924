"""The option space: one declaration, mirrored by the pre-gen hook and cookiecutter.json."""

from __future__ import annotations

import itertools

import pytest

from harness import options
from harness.hooks import load_hook

HOOK = load_hook("pre_gen_project")

# Free-text answers that must be rejected, with the field the message must name.
BAD_ANSWERS = [
    ("project_slug", "Has_Upper"),
    ("project_slug", "-leading-dash"),
    ("project_slug", "trailing-"),
    ("project_slug", "a" * 64),
    ("project_slug", "9starts-with-digit"),
    ("package_name", "has-dash"),
    ("package_name", "class"),
    ("package_name", "torch"),
    ("package_name", "Upper"),
    ("description", 'has "quotes"'),
    ("description", "two\nlines"),
    ("author_email", "not-an-email"),
    ("version", "1.0"),
    ("version", "01.0.0"),
    ("image_registry", "Registry.Example.com"),
    ("image_registry", "ghcr.io//double"),
    ("image_name", "Upper/Case"),
    ("image_name", "trailing-"),
    ("serve_port", "80"),
    ("serve_port", "65536"),
    ("serve_port", "eighty"),
    ("serve_replicas", "0"),
    ("serve_replicas", "21"),
    ("project_name", ""),
]
GOOD_ANSWERS = {
    "project_name": "Digits Classifier",
    "project_slug": "digits-classifier",
    "package_name": "digits_classifier",
    "description": "A one-line description.",
    "author_name": "Ada Lovelace",
    "author_email": "ada@example.com",
    "version": "0.1.0",
    "image_registry": "registry.example.com:5000/team",
    "image_name": "digits/classifier",
    "serve_port": "8000",
    "serve_replicas": "2",
}


def test_cookiecutter_json_declares_the_same_choices_with_the_same_defaults() -> None:
    declared = options.cookiecutter_defaults()
    for name, allowed in options.CHOICES.items():
        assert tuple(declared[name]) == allowed, name
        assert name in declared["__prompts__"], f"{name} has no prompt"


def test_every_free_text_field_is_in_cookiecutter_json_with_a_valid_default() -> None:
    declared = options.cookiecutter_defaults()
    for field in options.FIELDS:
        assert field.name in declared, field.name
        assert field.name in declared["__prompts__"], f"{field.name} has no prompt"
    plain = {f.name: declared[f.name] for f in options.FIELDS if "{{" not in declared[f.name]}
    assert options.field_errors(plain) == []


def test_hook_mirrors_the_declaration_exactly() -> None:
    assert HOOK.CHOICES == options.CHOICES
    assert HOOK.RULES == tuple(tuple(rule) for rule in options.RULES)
    assert HOOK.FIELDS == tuple(tuple(field) for field in options.FIELDS)
    assert HOOK.RESERVED_PACKAGE_NAMES == options.RESERVED_PACKAGE_NAMES


@pytest.mark.parametrize("combination", list(options.all_combinations()), ids=options.variant_id)
def test_hook_and_harness_agree_on_every_combination(combination: dict[str, str]) -> None:
    assert HOOK.problems({**GOOD_ANSWERS, **combination}) == options.problems({**GOOD_ANSWERS, **combination})


@pytest.mark.parametrize(("name", "value"), BAD_ANSWERS, ids=lambda x: str(x)[:20])
def test_bad_free_text_is_named_with_value_and_rule(name: str, value: str) -> None:
    found = options.problems({**GOOD_ANSWERS, name: value})
    assert len(found) == 1, found
    assert found[0].startswith(f"{name}={value!r} is invalid:")
    assert HOOK.problems({**GOOD_ANSWERS, name: value}) == found


def test_good_answers_pass() -> None:
    assert options.problems({**GOOD_ANSWERS, **options.default_variant()}) == []


def test_rules_split_the_space() -> None:
    valid, invalid = options.valid_variants(), options.invalid_variants()
    assert len(valid) + len(invalid) == len(list(options.all_combinations()))
    assert not any(v["framework"] == "sklearn" and v["accelerator"] == "cuda" for v in valid)
    assert not any(v["framework"] != "pytorch" and v["distributed_training"] == "torchrun" for v in valid)


def test_covering_set_covers_every_valid_pair_with_valid_variants_only() -> None:
    covering = options.covering_set()
    valid = options.valid_variants()
    assert all(v in valid for v in covering)
    assert covering[0] == options.default_variant()

    def pairs(vs: list[dict[str, str]]) -> set:
        return {pair for v in vs for pair in itertools.combinations(sorted(v.items()), 2)}

    assert pairs(covering) == pairs(valid)
    assert len(covering) < len(valid) / 4


def test_variant_ids_are_unique_and_readable() -> None:
    ids = [options.variant_id(v) for v in options.valid_variants()]
    assert len(set(ids)) == len(ids)
    assert options.variant_id(options.default_variant()) == "py3.11-pytorch-cpu-single-k8s-gha"


def test_select_by_id_filter_and_keyword() -> None:
    assert options.select([]) == options.covering_set()
    assert options.select(["default"]) == [options.default_variant()]
    assert len(options.select(["all"])) == len(options.valid_variants())
    sk = options.select(["framework=sklearn"])
    assert sk and all(v["framework"] == "sklearn" for v in sk)
    vid = "py3.12-tensorflow-cpu-single-nok8s-noci"
    assert [options.variant_id(v) for v in options.select([vid])] == [vid]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("framework=bogus", "framework='bogus' is not one of pytorch, tensorflow, sklearn"),
        ("colour=red", "unknown option 'colour'"),
        ("framework=sklearn,accelerator=cuda", "accelerator=cuda is not allowed with framework=sklearn"),
        ("no-such-variant", "unknown variant 'no-such-variant'"),
    ],
)
def test_select_rejects_bad_specs_with_one_clear_message(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        options.select([spec])
