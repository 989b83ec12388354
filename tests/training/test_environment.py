import pytest

from dlrun.experiment.resolve import resolve_precision
from dlrun.models.cnn import CNNParams
from dlrun.models.mlp import MLPParams
from dlrun.training import environment

AVX512_ONLY = ["fpu", "avx2", "avx512f", "avx512_bf16"]
WITH_AMX = [*AVX512_ONLY, "amx_bf16", "amx_tile"]


def test_only_amx_counts_as_fast_bfloat16_on_a_cpu():
    # On an AVX512-BF16-only CPU the CNN trained slower in bfloat16 than in float32.
    assert environment.fast_cpu_bfloat16(WITH_AMX)
    assert not environment.fast_cpu_bfloat16(AVX512_ONLY)
    assert not environment.fast_cpu_bfloat16([])


@pytest.mark.parametrize("fast_bfloat16", [True, False])
def test_auto_precision_is_bfloat16_only_for_conv_nets_on_fast_hardware(monkeypatch, fast_bfloat16):
    monkeypatch.setattr(environment, "has_bfloat16_units", lambda: fast_bfloat16)
    expected_cnn = "mixed_bfloat16" if fast_bfloat16 else "float32"
    assert resolve_precision("auto", CNNParams()) == expected_cnn
    assert resolve_precision("auto", MLPParams()) == "float32"
    assert resolve_precision("mixed_float16", MLPParams()) == "mixed_float16"
