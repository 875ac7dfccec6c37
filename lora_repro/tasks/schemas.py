"""The hub schemas (datasets ``Features``) of every dataset the paper uses, and the check run on load.

Sources: the hub dataset cards and dataset_infos, and the datasets library's source.
In datasets >= 4 a ``Sequence({...})`` of a dict is a dict of ``List``s; that is how they appear here.
"""

from __future__ import annotations

from datasets import ClassLabel, Features, List, Value

GLUE_LABELS: dict[str, list[str] | None] = {
    "cola": ["unacceptable", "acceptable"],
    "sst2": ["negative", "positive"],
    "mrpc": ["not_equivalent", "equivalent"],
    "qqp": ["not_duplicate", "duplicate"],
    "stsb": None,
    "mnli": ["entailment", "neutral", "contradiction"],
    "qnli": ["entailment", "not_entailment"],
    "rte": ["entailment", "not_entailment"],
}
GLUE_TEXT: dict[str, tuple[str, str | None]] = {
    "cola": ("sentence", None),
    "sst2": ("sentence", None),
    "mrpc": ("sentence1", "sentence2"),
    "qqp": ("question1", "question2"),
    "stsb": ("sentence1", "sentence2"),
    "mnli": ("premise", "hypothesis"),
    "qnli": ("question", "sentence"),
    "rte": ("sentence1", "sentence2"),
}


def glue_features(config: str) -> Features:
    """``nyu-mll/glue`` features of ``config``: text column(s), label (ClassLabel or float32), idx."""
    a, b = GLUE_TEXT[config]
    names = GLUE_LABELS[config]
    cols = {a: Value("string")}
    if b:
        cols[b] = Value("string")
    cols["label"] = ClassLabel(names=names) if names else Value("float32")
    cols["idx"] = Value("int32")
    return Features(cols)


E2E_FEATURES = Features({"meaning_representation": Value("string"), "human_reference": Value("string")})

WEBNLG_FEATURES = Features(
    {
        "category": Value("string"),
        "size": Value("int32"),
        "eid": Value("string"),
        "original_triple_sets": {"otriple_set": List(List(Value("string")))},
        "modified_triple_sets": {"mtriple_set": List(List(Value("string")))},
        "shape": Value("string"),
        "shape_type": Value("string"),
        "lex": {
            "comment": List(Value("string")),
            "lid": List(Value("string")),
            "text": List(Value("string")),
            "lang": List(Value("string")),
        },
        "test_category": Value("string"),
        "dbpedia_links": List(Value("string")),
        "links": List(Value("string")),
    }
)

DART_FEATURES = Features(
    {
        "tripleset": List(List(Value("string"))),
        "subtree_was_extended": Value("bool"),
        "annotations": {"source": List(Value("string")), "text": List(Value("string"))},
    }
)

WIKISQL_FEATURES = Features(
    {
        "phase": Value("int32"),
        "question": Value("string"),
        "table": {
            "header": List(Value("string")),
            "page_title": Value("string"),
            "page_id": Value("string"),
            "types": List(Value("string")),
            "id": Value("string"),
            "section_title": Value("string"),
            "caption": Value("string"),
            "rows": List(List(Value("string"))),
            "name": Value("string"),
        },
        "sql": {
            "human_readable": Value("string"),
            "sel": Value("int32"),
            "agg": Value("int32"),
            "conds": {
                "column_index": List(Value("int32")),
                "operator_index": List(Value("int32")),
                "condition": List(Value("string")),
            },
        },
    }
)

SAMSUM_FEATURES = Features({"id": Value("string"), "dialogue": Value("string"), "summary": Value("string")})


def _describe(feature) -> str:
    return repr(feature).replace("\n", " ")


def _compare(expected, actual, path: str, problems: list[str], strict_labels: bool) -> None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            problems.append(
                f"column {path!r} should be a struct {_describe(expected)}, got {_describe(actual)}"
            )
            return
        for key, sub in expected.items():
            name = f"{path}.{key}" if path else key
            if key not in actual:
                problems.append(f"missing column {name!r} (expected {_describe(sub)})")
            else:
                _compare(sub, actual[key], name, problems, strict_labels)
        return
    if isinstance(expected, List):
        if not isinstance(actual, List):
            problems.append(f"column {path!r} should be {_describe(expected)}, got {_describe(actual)}")
            return
        _compare(expected.feature, actual.feature, f"{path}[]", problems, strict_labels)
        return
    if isinstance(expected, ClassLabel):
        if not isinstance(actual, ClassLabel):
            if strict_labels or not (isinstance(actual, Value) and actual.dtype.startswith("int")):
                problems.append(f"column {path!r} should be {_describe(expected)}, got {_describe(actual)}")
        elif list(actual.names) != list(expected.names):
            problems.append(f"column {path!r} has label names {actual.names}, expected {expected.names}")
        return
    if isinstance(expected, Value):
        ok = isinstance(actual, Value) and (
            actual.dtype == expected.dtype
            or (expected.dtype.startswith("int") and actual.dtype.startswith("int"))
            or (expected.dtype.startswith("float") and actual.dtype.startswith("float"))
            or (expected.dtype == "string" and actual.dtype == "large_string")
        )
        if not ok:
            problems.append(f"column {path!r} should be {_describe(expected)}, got {_describe(actual)}")


def check_schema(features: Features, expected: Features, what: str, strict_labels: bool = False) -> None:
    """Raise ValueError naming every missing or mistyped column of ``features`` against ``expected``.

    Integer widths (int32/int64) and float widths may differ (parquet/CSV round trips widen them);
    a plain int label is accepted where a ClassLabel is expected unless ``strict_labels``.
    """
    problems: list[str] = []
    _compare(dict(expected), dict(features), "", problems, strict_labels)
    if problems:
        raise ValueError(f"{what}: data does not match the hub schema: " + "; ".join(problems))
