"""``train_on`` (which IFT tokens the loss sees), how ``mask_prompt`` maps onto it, and IFT packing."""

import inspect

import pytest

from forgellm_tui.core.config import ConfigFieldError, from_dict

BASE = {"model": "m", "data": "d"}
IFT = {**BASE, "training_type": "ift"}


def _errors(raw: dict) -> dict:
    with pytest.raises(ConfigFieldError) as info:
        from_dict(raw)
    return info.value.errors


@pytest.mark.parametrize("raw, expected", [
    (IFT, "assistant"), ({**IFT, "mask_prompt": True}, "assistant"), ({**IFT, "mask_prompt": False}, "all"),
    ({**IFT, "train_on": "last"}, "last"), ({**IFT, "train_on": "last", "mask_prompt": True}, "last"),
    ({**IFT, "train_on": "all", "mask_prompt": False}, "all"), (BASE, "all")])
def test_train_on_defaults_to_every_assistant_turn_and_mask_prompt_maps_onto_it(raw, expected):
    cfg = from_dict(raw)
    assert cfg.effective_train_on == expected
    assert cfg.effective_mask_prompt == (expected != "all")


def test_train_on_contradicting_mask_prompt_or_on_cpt_is_refused():
    assert "mask_prompt" in _errors({**IFT, "train_on": "assistant", "mask_prompt": False})["train_on"]
    assert "mask_prompt" in _errors({**IFT, "train_on": "all", "mask_prompt": True})["train_on"]
    assert "IFT" in _errors({**BASE, "train_on": "last"})["train_on"]
    assert "train_on" in _errors({**IFT, "train_on": "everything"})


def test_packing_is_refused_for_ift_because_the_model_takes_no_attention_mask():
    """Packed conversations need a block-diagonal mask; mlx-lm's llama (the demo's architecture) builds its
    own causal mask and has no ``mask`` argument, so packing IFT would let one conversation see another."""
    from mlx_lm.models.llama import Model

    assert "mask" not in inspect.signature(Model.__call__).parameters
    reason = _errors({**IFT, "packing": True})["packing"]
    assert "attention mask" in reason and "one conversation per row" in reason
