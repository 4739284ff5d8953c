"""Preference lines: the accepted forms and the one-line reasons for the rest."""

import json

import pytest

from forgellm_tui.core.datasets import check_preference, read_preference_file
from forgellm_tui.core.errors import DataError


def test_prompt_and_message_forms_give_the_same_pair():
    a, why_a = check_preference({"prompt": "Q?", "chosen": "yes", "rejected": "no"})
    b, why_b = check_preference({"messages": [{"role": "user", "content": "Q?"}],
                                 "chosen": {"role": "assistant", "content": "yes"},
                                 "rejected": [{"role": "assistant", "content": "no"}]})
    assert why_a is None and why_b is None
    assert a == b
    assert a.as_json() == {"messages": [{"role": "user", "content": "Q?"}], "chosen": "yes", "rejected": "no"}


@pytest.mark.parametrize("line, words", [
    ({"prompt": "Q", "chosen": "same", "rejected": " same "}, "the same answer"),
    ({"prompt": "Q", "chosen": "a"}, '"rejected" is missing'),
    ({"chosen": "a", "rejected": "b"}, '"prompt"'),
    ({"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
      "chosen": "a", "rejected": "b"}, "ends with the assistant"),
    ({"prompt": "Q", "chosen": {"role": "user", "content": "a"}, "rejected": "b"}, "assistant message"),
    ({"prompt": "Q", "chosen": "", "rejected": "b"}, '"chosen" is empty'),
    ([1, 2], "JSON object"),
])
def test_bad_lines_say_what_is_wrong(line, words):
    record, why = check_preference(line)
    assert record is None and words in why


def test_reading_a_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    good = {"prompt": "Q", "chosen": "a", "rejected": "b"}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({"prompt": "Q", "chosen": "a"}) + "\n")
    with pytest.raises(DataError) as err:
        read_preference_file(path)
    assert str(path) in str(err.value) and "line 3" in str(err.value) and '"rejected" is missing' in str(err.value)
    path.write_text(json.dumps(good) + "\n")
    assert [r.chosen for r in read_preference_file(path)] == ["a"]
