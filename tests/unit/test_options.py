"""The option space: choices in cookiecutter.json, rules in the pre-gen hook, all else derived."""

from __future__ import annotations

import itertools

import pytest

from harness import options

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
    ("description", "two\nlines"),
    ("description", "a\x7fdel"),
    ("description", "c1\x85next line"),
    ("description", "c1\x9bcsi"),
    ("description", "line\u2028separator"),
    ("description", "x" * 201),
    ("project_name", "tab\there"),
    ("project_name", "bidi\u202eoverride"),
    ("author_name", 'Ada "the Countess"'),
    ("author_name", "Ada <ada@example.com>"),
    ("author_name", "Lovelace, Ada"),
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


def test_choices_are_cookiecutter_jsons_lists_with_their_defaults_first() -> None:
    declared = options.cookiecutter_defaults()
    assert list(options.CHOICES) == [k for k, v in declared.items() if isinstance(v, list) and k[0] != "_"]
    for name, allowed in options.CHOICES.items():
        assert tuple(declared[name]) == allowed, name
        assert options.default_variant()[name] == declared[name][0]
        assert name in declared["__prompts__"], f"{name} has no prompt"


def test_every_free_text_field_has_a_prompt_and_a_valid_default() -> None:
    declared = options.cookiecutter_defaults()
    for name in options.FREE_TEXT:
        assert name in declared["__prompts__"], f"{name} has no prompt"
    plain = {name: declared[name] for name in options.FREE_TEXT if "{{" not in declared[name]}
    assert options.field_errors(plain) == []


def test_every_rule_of_the_hook_names_declared_options_and_values() -> None:
    for name in options.HOOK.FIELDS:
        assert name in options.FREE_TEXT, f"the hook has a rule for {name}, which cookiecutter.json does not declare"
    for rule in options.HOOK.RULES:
        for option, value in (*rule.when, (rule.option, rule.forbidden)):
            assert value in options.CHOICES[option], (option, value)


@pytest.mark.parametrize(("name", "value"), BAD_ANSWERS, ids=lambda x: str(x)[:20])
def test_bad_free_text_is_named_with_value_and_rule(name: str, value: str) -> None:
    found = options.problems({**GOOD_ANSWERS, name: value})
    assert len(found) == 1, found
    assert found[0].startswith(f"{name}={value!r} is invalid:")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("project_name", 'The "Best" Classifier $HOME ${X} {{ x }} #1: -x %s'),
        ("description", "Prices in ${USD; costs $5 & <b>bold</b> `code` * _u_ # [l](u) | é 漢字 🙂"),
        ("description", ""),
        ("author_name", "Zoë O'Brien-Łukasz"),
    ],
    ids=lambda x: str(x)[:20],
)
def test_printable_text_with_quotes_and_markup_is_accepted(name: str, value: str) -> None:
    assert options.problems({**GOOD_ANSWERS, name: value}) == []


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
