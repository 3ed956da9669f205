"""The shipped card and the training record are the split of one full card: the card holds what a user of the
weights needs, the record how they were found, and nothing is lost or held twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from laanet_research.card_split import BUILTIN_RECORD, SHIPPED_KEYS, selected_recipe, split_card

RECORD = Path(__file__).resolve().parents[1] / "builtin-lite0" / "record.json"


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads(RECORD.read_text())


def full_card(shipped: dict, record: dict) -> dict:
    """The card as export and the report wrote it, before the split."""
    return {**{k: v for k, v in shipped.items() if k != "training"},
            **{k: v for k, v in record.items() if k not in ("name", "sha256")}}


def test_the_shipped_card_and_the_record_are_the_split_of_one_card(shipped_card: dict, record: dict) -> None:
    assert record["name"] == shipped_card["name"] and record["sha256"] == shipped_card["sha256"]
    assert split_card(full_card(shipped_card, record)) == (shipped_card, record)
    assert shipped_card["training"]["record"] == BUILTIN_RECORD
    # nothing of the record is on the card but the recipe the weights were selected with
    assert not set(record) & set(SHIPPED_KEYS) - {"name", "sha256"}
    assert shipped_card["training"]["recipe"] == selected_recipe(record["training"])


def test_split_refuses_a_card_without_its_identity() -> None:
    with pytest.raises(ValueError, match="sha256"):
        split_card({"name": "x", "variant": "v", "training": {"recipe": {}}})


def test_ship_card_writes_both_files_and_never_into_the_package(shipped_card: dict, record: dict,
                                                                 tmp_path: Path, capsys) -> None:
    import laanet_model
    from laanet_model.checkpoints import read_card
    from laanet_research.cli import main

    full = tmp_path / "full.json"
    full.write_text(json.dumps(full_card(shipped_card, record)))
    assert main(["ship-card", str(full), "--out", str(tmp_path / "card.json"),
                 "--record", str(tmp_path / "record.json")]) == 0
    assert read_card(tmp_path / "card.json") == shipped_card
    assert json.loads((tmp_path / "record.json").read_text()) == record
    inside = Path(laanet_model.__file__).parent / "assets" / "x.json"
    with pytest.raises(SystemExit) as exc:
        main(["ship-card", str(full), "--out", str(inside), "--record", str(tmp_path / "r.json")])
    assert exc.value.code == 2 and "installed laanet_model package" in capsys.readouterr().err
    assert not inside.exists()
