"""task.text_format: hub rows -> the text of microsoft/LoRA's formatted files (expected strings by hand)."""

from __future__ import annotations

import pytest

from lora_repro.tasks import get_task
from lora_repro.tasks.reference_format import tokenise_e2e

SMALL = {"n_train": 40, "n_validation": 20, "n_test": 60}

E2E_ROW = {
    "meaning_representation": "name[Blue Spice], eatType[coffee shop], priceRange[£20-25], "
    "customer rating[5 out of 5], familyFriendly[no], near[Crowne Plaza Hotel]",
    "human_reference": "Blue Spice isn't family-friendly; it's a coffee shop near 'Crowne Plaza Hotel', "
    "priced £20-25.",
}


def test_e2e_reference_format_tokenises_context_and_target():
    ex = get_task("e2e", text_format="reference").format(E2E_ROW)
    assert ex["text"] == (
        "name : Blue Spice | Type : coffee shop | price : £ 20 - 25 | customer rating : 5 out of 5 | "
        "family friendly : no | near : Crowne Plaza Hotel"
    )
    assert ex["target"] == (
        " Blue Spice is n't family - friendly ; it 's a coffee shop near ' Crowne Plaza Hotel ' , "
        "priced £ 20 - 25 ."
    )


def test_e2e_hub_format_is_the_default_and_unchanged():
    ex = get_task("e2e").format(E2E_ROW)
    assert ex["text"] == (
        "name : Blue Spice | Type : coffee shop | price : £20-25 | customer rating : 5 out of 5 | "
        "family friendly : no | near : Crowne Plaza Hotel"
    )
    assert ex["target"] == " " + E2E_ROW["human_reference"]
    assert get_task("e2e").text_format == "hub"
    assert get_task("e2e", text_format="hub").format(E2E_ROW) == ex


def test_paper_profile_defaults_to_reference():
    for name in ("e2e", "webnlg", "dart"):
        assert get_task(name, profile="paper").text_format == "reference"
        assert get_task(name, profile="paper", text_format="hub").text_format == "hub"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Kid friendly, .Blue Spice is in riverside.", "Kid friendly , .Blue Spice is in riverside ."),
        ("Rated 4.5 out of 5, it seats 1,000.", "Rated 4.5 out of 5 , it seats 1,000 ."),
        ("A 5-star pub, prices £20-£25.", "A 5-star pub , prices £ 20-£25 ."),
        (
            "It's near the river.  You'll love it, won't you?",
            "It 's near the river . You 'll love it , wo n't you ?",
        ),
        ("They're kids-friendly: we've seen it!", "They 're kids - friendly : we 've seen it !"),
        ('The "Mill" costs less than $30.', 'The " Mill " costs less than $ 30 .'),
        ("A rating thats high..", "A rating that s high .."),
        ("Aromi's area is 'average'.", "Aromi 's area is ' average ' ."),
    ],
)
def test_e2e_tokeniser_cases(raw, expected):
    assert tokenise_e2e(raw) == expected


def test_e2e_reference_eval_groups_hold_tokenised_references():
    rows = [E2E_ROW, {**E2E_ROW, "human_reference": "Blue Spice, a coffee shop."}]
    groups = get_task("e2e", text_format="reference").eval_groups(rows)
    assert len(groups) == 1
    assert groups[0]["references"] == [
        "Blue Spice is n't family - friendly ; it 's a coffee shop near ' Crowne Plaza Hotel ' , priced £ 20 - 25 .",
        "Blue Spice , a coffee shop .",
    ]
    assert groups[0]["text"].endswith("| near : Crowne Plaza Hotel")


def _web_row(eid: str, texts: list[str], comments: list[str], category: str = "Airport") -> dict:
    n = len(texts)
    return {
        "category": category,
        "eid": eid,
        "modified_triple_sets": {
            "mtriple_set": [
                ["Aarhus_Airport | cityServed | Aarhus", "Aarhus | leaderName | Jacob_Bundsgaard"]
            ]
        },
        "lex": {"text": texts, "comment": comments, "lid": [f"Id{i}" for i in range(n)], "lang": [""] * n},
    }


def test_webnlg_reference_format():
    task = get_task("webnlg", text_format="reference")
    rows = [
        _web_row("Id1", ["Aarhus Airport serves Aarhus. ", "bad one"], ["good", "toFix"]),
        _web_row("Id2", ["Aarhus, led by Jacob Bundsgaard, has an airport."], ["good"], "Politician"),
        _web_row("Id3", ["only a bad one"], ["toFix"]),
    ]
    context = "Aarhus_Airport : cityServed : Aarhus | Aarhus : leaderName : Jacob_Bundsgaard"
    ex = task.examples(rows)
    assert [e["text"] for e in ex] == [context, context]
    assert [e["target"] for e in ex] == [
        " Aarhus Airport serves Aarhus. ",  # the reference files keep the text as it is
        " Aarhus, led by Jacob Bundsgaard, has an airport.",
    ]
    groups = task.eval_groups(rows)
    assert len(groups) == 1  # one per distinct context; an entry without a good text has no line
    assert groups[0]["references"] == [
        "Aarhus Airport serves Aarhus.",
        "Aarhus, led by Jacob Bundsgaard, has an airport.",
    ]
    assert groups[0]["meta"] == {"category": "Airport", "seen": True, "eid": "Id1"}
    hub = get_task("webnlg")
    assert [e["target"] for e in hub.examples(rows)][:2] == [
        " Aarhus Airport serves Aarhus.",
        " Aarhus, led by Jacob Bundsgaard, has an airport.",
    ]
    assert len(hub.eval_groups(rows)) == 3  # hub: one group per entry, as before


def test_dart_reference_format():
    task = get_task("dart", text_format="reference")
    triples = [["Orlien", "LONGITUDE", "-101.796936"], ["Orlien", "LATITUDE", "47.985154"]]
    rows = [
        {
            "tripleset": triples,
            "subtree_was_extended": False,
            "annotations": {
                "source": ["webnlg", "webnlg"],
                "text": ["Orlien lies at 47.985154. ", "Orlien."],
            },
        },
        {
            "tripleset": triples,
            "subtree_was_extended": True,
            "annotations": {"source": ["e2e"], "text": ["X."]},
        },
        {
            "tripleset": [["A", "B", "C"]],
            "subtree_was_extended": None,
            "annotations": {"source": [], "text": []},
        },
    ]
    context = "Orlien : longitude : -101.796936 | Orlien : latitude : 47.985154"
    ex = task.examples(rows)
    assert [e["text"] for e in ex] == [context] * 3
    assert [e["target"] for e in ex] == [" Orlien lies at 47.985154. ", " Orlien.", " X."]
    groups = task.eval_groups(rows)
    assert [(g["text"], g["references"], g["meta"]) for g in groups] == [
        (context, ["Orlien lies at 47.985154.", "Orlien.", "X."], {"source": "webnlg"})
    ]
    hub = get_task("dart")
    assert [e["target"] for e in hub.examples(rows)][:3] == [" Orlien lies at 47.985154.", " Orlien.", " X."]
    assert len(hub.eval_groups(rows)) == 3


@pytest.mark.parametrize("name", ["e2e", "webnlg", "dart"])
def test_bad_text_format_is_one_line(name):
    with pytest.raises(ValueError, match=r"task.text_format='foo'.*allowed: \['hub', 'reference'\]") as err:
        get_task(name, text_format="foo")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["e2e", "webnlg", "dart"])
def test_tiny_data_builds_in_both_formats(name, tmp_path):
    hub = get_task(name, tiny=SMALL, cache_dir=tmp_path)
    ref = get_task(name, tiny=SMALL, cache_dir=tmp_path, text_format="reference")
    for role in ("train", "validation", "test"):
        assert ref.load(role).to_list() == hub.load(role).to_list()  # the rows (hub schema) are the same
    train, test = hub.load("train"), hub.load("test")
    hub_ex, ref_ex = hub.examples(train), ref.examples(train)
    assert len(ref_ex) == len(hub_ex) > 0
    assert all(e["target"].startswith(" ") and e["target"].strip() for e in ref_ex)
    groups = ref.eval_groups(test)
    assert groups and all(g["references"] for g in groups)
    assert sum(len(g["references"]) for g in groups) == sum(
        len(g["references"]) for g in hub.eval_groups(test)
    )
    if name == "e2e":  # tokenised: sentence-final periods are tokens of their own
        assert all(" ." in e["target"] for e in ref_ex if e["target"].endswith("."))
        assert any(h["target"] != r["target"] for h, r in zip(hub_ex, ref_ex, strict=True))
    else:  # the tiny texts have no outer whitespace: the same pairs
        assert [(e["text"], e["target"]) for e in ref_ex] == [(e["text"], e["target"]) for e in hub_ex]


@pytest.mark.parametrize(
    ("profile", "default", "other"), [("tiny", "hub", "reference"), ("paper", "reference", "hub")]
)
def test_text_format_at_the_profile_default_hashes_like_null(profile, default, other):
    """Naming the profile's default text format is the same cell as leaving it unset; the other is not."""
    from lora_repro.train.cell import cell_config, cell_hash

    base = ["model=gpt2-medium", "task=e2e", "method=lora", "seed=1", f"profile={profile}"]
    unset = cell_hash(cell_config(base))
    assert cell_hash(cell_config([*base, f"task.text_format={default}"])) == unset
    assert cell_hash(cell_config([*base, "task.text_format=null"])) == unset
    assert cell_hash(cell_config([*base, f"task.text_format={other}"])) != unset
