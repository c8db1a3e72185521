"""Bundle versions: stored atomically, one champion pointer, an append-only log,
rollback down the champions' stack, pruning that spares the champion."""

from __future__ import annotations

import json

import pytest

from gafcnn.io import InputError, write_json
from gafcnn.serving.versions import Versions, version_of


def fake_bundle(root, fitted: str, digest: str):
    """A folder with the bundle.json fields the store reads (not a servable bundle)."""
    root.mkdir(parents=True)
    write_json(root / "bundle.json", {"expiry": {"fitted_until": fitted, "max_age_days": 14},
                                      "spec_sha256": digest * 16,
                                      "code": {"gafcnn": "0.1.0"}})  # fmt: skip
    (root / "model.bin").write_bytes(digest.encode())
    return root


def test_versions_promote_refuse_rollback_and_prune(tmp_path):
    store = Versions(tmp_path / "versions", tmp_path / "promotions.jsonl")
    names = []
    for i, (fitted, digest) in enumerate([("2025-06-01T00:00", "c"), ("2025-06-08T00:00", "a"),
                                          ("2025-06-15T00:00", "b")]):  # fmt: skip
        names.append(store.add(fake_bundle(tmp_path / f"export{i}", fitted, digest)))
    assert names == store.all()  # by the last bar fitted on, not by name
    assert names[0] == "0.1.0+cccccccccccc"  # the bundle's one id
    assert store.add(tmp_path / "export0") == names[0] and len(store.all()) == 3
    assert (store.path(names[1]) / "model.bin").read_bytes() == b"a"
    assert store.champion() is None and store.previous() is None

    store.promote(names[0], "2025-06-01T00:00", "first champion")
    store.promote(names[1], "2025-06-08T00:00", "beat the champion", {"net_bps": 1.5})
    store.refuse(names[2], "2025-06-15T00:00", "worse than the champion")
    assert store.champion() == names[1] and store.previous() == names[0]
    lines = (tmp_path / "promotions.jsonl").read_text().splitlines()
    assert [json.loads(x)["action"] for x in lines] == ["promote", "promote", "refuse"]
    assert json.loads(lines[2])["champion"] == names[1]

    assert store.rollback("2025-06-16T00:00") == names[0]
    assert store.champion() == names[0]
    with pytest.raises(InputError, match="no previous champion"):
        store.rollback("2025-06-16T00:01")  # the stack is popped, not toggled
    assert len((tmp_path / "promotions.jsonl").read_text().splitlines()) == 4

    store.promote(names[2], "2025-06-17T00:00", "promoted")
    assert store.prune(keep=1) == [names[1]]  # the champion and the one before it stay
    assert store.all() == [names[0], names[2]]
    assert store.champion() == names[2] and store.previous() == names[0]


def test_a_bundle_without_fitted_until_is_refused(tmp_path):
    (tmp_path / "b").mkdir()
    write_json(tmp_path / "b" / "bundle.json", {"expiry": None, "spec_sha256": "0" * 64,
                                                "code": {"gafcnn": "0.1.0"}})  # fmt: skip
    with pytest.raises(InputError, match="fitted_until"):
        version_of(tmp_path / "b")
    with pytest.raises(InputError, match="no stored version"):
        Versions(tmp_path / "v", tmp_path / "log.jsonl").path("nope")
