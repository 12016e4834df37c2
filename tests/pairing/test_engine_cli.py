"""The engine's JSON faces: records round-trip, the command line, the README example."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pairing import engine
from pairing.engine import MatchResult, Mentor, PairingInput, propose_pairs
from tests.pairing.test_engine import mentor, random_instance

# --------------------------------------------------------------------------- examples: JSON


def test_json_round_trips():
    inputs = random_instance(7, 5, 6)
    again = PairingInput.from_dict(inputs.to_dict())
    assert again == inputs
    assert again.to_dict() == inputs.to_dict()
    result = propose_pairs(inputs)
    data = result.to_dict()
    assert MatchResult.from_dict(data).to_dict() == data
    assert MatchResult.from_dict(data) == result


def test_records_are_frozen_and_hashable():
    m = mentor("m1", teaches={"AI tools": 3})
    with pytest.raises(AttributeError):
        m.level = 3
    assert hash(m) == hash(mentor("m1", teaches={"AI tools": 3}))
    assert m == Mentor.from_dict(m.to_dict())


# --------------------------------------------------------------------------- examples: command line

EXAMPLE_INPUT = {
    "policy": {"strategy": "best_score", "min_score": 200, "min_level_gap": 2, "weights": {"topics": 5, "availability": 2}},
    "mentors": [
        {"id": "m1", "name": "Ana", "level": 2, "department": "IT", "manager_chain": ["b1", "ceo"],
         "teaches": {"AI tools": 5}, "languages": ["English"], "availability": ["mon-09"], "capacity": 1},
        {"id": 7, "level": 1, "department": "Sales", "manager_chain": ["e2", "ceo"], "teaches": {"AI tools": 3}},
    ],
    "mentees": [
        {"id": "e1", "name": "Sam", "level": 6, "department": "Finance", "manager_chain": ["ceo"],
         "wants": {"AI tools": 1}, "languages": ["English"], "availability": ["mon-09"]},
        {"id": "e2", "level": 7, "department": "Sales", "manager_chain": ["ceo"], "wants": {"AI tools": 2}},
    ],
    "pins": [],
    "exclusions": [["m1", "e2"]],
}


def run_cli(tmp_path, payload):
    path = tmp_path / "input.json"
    path.write_text(json.dumps(payload) if not isinstance(payload, str) else payload)
    root = Path(engine.__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, "-m", "pairing.engine", str(path)], cwd=root, capture_output=True, text=True, timeout=120
    )


def test_cli_prints_the_result_as_json(tmp_path):
    proc = run_cli(tmp_path, EXAMPLE_INPUT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["strategy"] == "best_score"
    assert [(p["mentor"], p["mentee"]) for p in out["pairs"]] == [("m1", "e1")]
    assert out["pairs"][0]["score"] == sum(out["pairs"][0]["breakdown"]["points"].values()) == out["total_score"]
    assert "teaches AI tools that the mentee rated 1/5 (mentor confidence 5/5)" in out["pairs"][0]["explanation"]
    unmatched = {(u["side"], u["id"]): u["reason"] for u in out["unmatched"]}
    # mentor 7 (an int id, kept as an int) sits under e2 and e1 is taken: nobody left for them
    assert unmatched == {("mentee", "e2"): "no_feasible_partner", ("mentor", 7): "not_needed"}
    direct = propose_pairs(PairingInput.from_dict(EXAMPLE_INPUT)).to_dict()
    assert out == json.loads(json.dumps(direct))


def test_cli_reports_bad_input_on_stderr(tmp_path):
    bad = dict(EXAMPLE_INPUT, pins=[["m1", "e2"]])
    proc = run_cli(tmp_path, bad)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "error: the pin Ana + e2 cannot be honoured" in proc.stderr  # named as HR knows them
    proc = run_cli(tmp_path, "{not json")
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr


def test_readme_example_output_is_exact():
    import re

    text = (Path(engine.__file__).parent / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    example_in, example_out = json.loads(blocks[0]), json.loads(blocks[1])
    assert propose_pairs(PairingInput.from_dict(example_in)).to_dict() == example_out
