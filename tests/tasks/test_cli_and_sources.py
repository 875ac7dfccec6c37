"""`lora-repro data task=<name> split=test n=3` offline (tiny) and from a task.source copy, for every task."""

from __future__ import annotations

import json

import pytest

from lora_repro.cli import main as cli_main
from lora_repro.tasks import TASKS, get_task

SMALL = {"n_train": 12, "n_validation": 8, "n_test": 24}


def _run(capsys, args):
    code = cli_main(["data", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def _small(name):
    return [f"task.tiny.{k}={v}" for k, v in SMALL.items()]


def _check_lines(name, lines):
    task = get_task(name)
    assert len(lines) == 3
    for ex in lines:
        assert ex["task"] == name and isinstance(ex["text"], str) and ex["text"]
        if task.kind == "generation":
            assert ex["references"] and all(isinstance(r, str) and r for r in ex["references"])
            assert ex["target"].strip() in ex["references"]
        else:
            assert ex["label"] is not None and ex["label"] != -1  # test role = labeled dev set for GLUE


@pytest.mark.parametrize("name", TASKS)
def test_data_cli_tiny(name, capsys):
    code, lines, err = _run(capsys, [f"task={name}", "split=test", "n=3", *_small(name)])
    assert code == 0, err
    _check_lines(name, lines)


@pytest.mark.parametrize("name", TASKS)
def test_data_cli_from_source_dir(name, tmp_path, capsys, cache_dir):
    """Write the tiny test split in the hub schema (parquet files or save_to_disk), read it back via task.source."""
    task = get_task(name, tiny=SMALL, cache_dir=cache_dir)
    hub_split = task.resolve_split("test")
    ds = task.load_split(hub_split)
    if TASKS.index(name) % 2:
        ds.save_to_disk(str(tmp_path / hub_split))
    else:
        dir_name = "validation" if hub_split == "dev" else hub_split  # the parquet converter's renaming
        (tmp_path / dir_name).mkdir()
        ds.to_parquet(str(tmp_path / dir_name / "0000.parquet"))
    code, from_source, err = _run(capsys, [f"task={name}", "split=test", "n=3", f"task.source={tmp_path}"])
    assert code == 0, err
    _check_lines(name, from_source)
    code, tiny, _ = _run(capsys, [f"task={name}", "split=test", "n=3", *_small(name)])
    assert from_source == tiny  # the same code path after loading


def test_source_accepts_a_saved_dataset_dict_and_csv(tmp_path, cache_dir):
    from datasets import DatasetDict

    task = get_task("samsum", tiny=SMALL, cache_dir=cache_dir)
    dd = DatasetDict({s: task.load_split(s) for s in ("train", "test")})
    dd.save_to_disk(str(tmp_path / "dd"))
    assert (
        get_task("samsum", source=str(tmp_path / "dd"), cache_dir=cache_dir).load("test")[0] == dd["test"][0]
    )
    # the hub's SAMSum is CSV: numeric ids come back as int64 and are cast back to strings
    (tmp_path / "csv").mkdir()
    dd["test"].to_csv(str(tmp_path / "csv" / "test.csv"), index=False)
    back = get_task("samsum", source=str(tmp_path / "csv"), cache_dir=cache_dir).load("test")
    assert back[0] == dd["test"][0]


def test_cli_errors_are_one_line(capsys, tmp_path):
    assert cli_main(["data", "task=nope"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert cli_main(["data", "task=sst2", "split=dev"]) == 2
    assert "unknown split 'dev'" in capsys.readouterr().err
    assert cli_main(["data", "task=e2e", f"task.source={tmp_path / 'missing'}"]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert cli_main(["data", "task=e2e", f"task.source={tmp_path}"]) == 2
    assert "no data for split 'test'" in capsys.readouterr().err


def test_cli_decoder_family_shows_verbalised_label(capsys):
    code, lines, _ = _run(capsys, ["task=mnli", "split=validation", "n=3", "family=decoder", *_small("mnli")])
    assert code == 0
    names = ["entailment", "neutral", "contradiction"]
    for ex in lines:
        assert ex["text"].startswith("premise: ") and ex["text"].endswith("\nrelation:")
        assert ex["target"] == " " + names[ex["label"]]
