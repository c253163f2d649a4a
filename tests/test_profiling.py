"""Tests for tcenet_jax.profiling: HLO classification and a real profiled program."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tcenet_jax import profiling

# A hand-written optimised module: a fused convolution computed on upcast operands, a
# conversion, a copy, a reduction, an elementwise fusion and a loop around a dot.
HLO = """\
HloModule sample, entry_computation_layout={(bf16[1,8,8,4]{3,2,1,0})->f32[]}

%fused_conv (param_0: f32[1,8,8,4], param_1: f32[3,3,4,4]) -> f32[1,8,8,4] {
  %param_0 = f32[1,8,8,4]{3,2,1,0} parameter(0)
  %param_1 = f32[3,3,4,4]{3,2,1,0} parameter(1)
  ROOT %convolution.1 = f32[1,8,8,4]{3,2,1,0} convolution(%param_0, %param_1), window={size=3x3}
}

%convert_computation (param_0.1: bf16[1,8,8,4]) -> f32[1,8,8,4] {
  %param_0.1 = bf16[1,8,8,4]{3,2,1,0} parameter(0)
  ROOT %convert.1 = f32[1,8,8,4]{3,2,1,0} convert(%param_0.1)
}

%fused_add (param_0.2: f32[1,8,8,4]) -> f32[1,8,8,4] {
  %param_0.2 = f32[1,8,8,4]{3,2,1,0} parameter(0)
  ROOT %add.1 = f32[1,8,8,4]{3,2,1,0} add(%param_0.2, %param_0.2)
}

%body (p: (s32[], f32[4,4])) -> (s32[], f32[4,4]) {
  %p = (s32[], f32[4,4]) parameter(0)
  %m = f32[4,4]{1,0} get-tuple-element(%p), index=1
  %dot.1 = f32[4,4]{1,0} dot(%m, %m), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  %i = s32[] get-tuple-element(%p), index=0
  ROOT %t = (s32[], f32[4,4]) tuple(%i, %dot.1)
}

ENTRY %main.1 (x: bf16[1,8,8,4]) -> f32[] {
  %x = bf16[1,8,8,4]{3,2,1,0} parameter(0)
  %w = f32[3,3,4,4]{3,2,1,0} constant({...})
  %wrapped_convert = f32[1,8,8,4]{3,2,1,0} fusion(%x), kind=kLoop, calls=%convert_computation
  %conv_fusion = f32[1,8,8,4]{3,2,1,0} fusion(%wrapped_convert, %w), kind=kCustom, calls=%fused_conv
  %copy.1 = f32[1,8,8,4]{2,1,3,0} copy(%conv_fusion)
  %add_fusion = f32[1,8,8,4]{3,2,1,0} fusion(%copy.1), kind=kLoop, calls=%fused_add
  %init = (s32[], f32[4,4]) tuple()
  %loop = (s32[], f32[4,4]) while(%init), condition=%cond, body=%body
  %zero = f32[] constant(0)
  ROOT %reduce.1 = f32[] reduce(%add_fusion, %zero), dimensions={0,1,2,3}, to_apply=%sum
}
"""


def test_parse_hlo_reads_computations_instructions_and_fused_calls():
    computations = profiling.parse_hlo(HLO)
    assert {"fused_conv", "convert_computation", "fused_add", "body", "main.1"} <= set(computations)
    entry = computations["main.1"]
    assert entry["conv_fusion"].opcode == "fusion"
    assert entry["conv_fusion"].calls == "fused_conv"
    assert entry["conv_fusion"].operands == ("wrapped_convert", "w")
    assert entry["copy.1"].result_type.startswith("f32[1,8,8,4]")
    assert computations["body"]["t"].result_type == "(s32[], f32[4,4])"


def test_each_instruction_gets_its_kind_and_the_dtype_it_computes_in():
    computations = profiling.parse_hlo(HLO)
    owners = {n: body for body in computations.values() for n in body}

    def kind(name):
        return profiling.classify(owners[name][name], owners[name], computations)

    assert kind("conv_fusion") == ("convolution", "f32")  # upcast: f32 operands
    assert kind("wrapped_convert") == ("conversion", "")
    assert kind("copy.1") == ("data movement", "")
    assert kind("add_fusion") == ("elementwise", "")
    assert kind("reduce.1") == ("reduction", "")
    assert kind("dot.1") == ("dot", "f32")  # an unfused dot inside a loop body
    assert kind("loop") == ("container", "")


def test_profile_of_a_convolution_program_puts_its_time_in_the_convolution():
    x = jnp.asarray(np.random.default_rng(0).random((1, 48, 48, 32)), jnp.float32)
    w = jnp.asarray(np.random.default_rng(1).random((3, 3, 32, 32)), jnp.float32)

    def program(x, w):
        y = jax.lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return jnp.tanh(y).sum()

    compiled = jax.jit(program).lower(x, w).compile()
    profile = profiling.profile_ops(compiled, x, w, runs=2)
    names = {n for body in profiling.parse_hlo(compiled.as_text()).values() for n in body}
    assert profile and all(op.name in names and op.seconds > 0 for op in profile)
    by_kind = profiling.seconds_by_kind(profile)
    assert set(by_kind) == set(profiling.KINDS)
    assert by_kind["convolution"] == max(by_kind.values())
    assert set(profiling.compute_dtypes(profile, "convolution")) == {"f32"}

    table = profiling.profile_table({"float32": profile}, {"float32": 0.5})
    assert "convolution" in table and "500.0 ms" in table
    assert "float32: convolutions computed in f32" in table


@pytest.mark.parametrize(
    "op_name, scope",
    [
        ("jit(step)/jvp(tcenet)/conv_general_dilated", ("tcenet", "forward")),
        ("jit(step)/transpose(jvp(tcenet))/conv_general_dilated", ("tcenet", "backward")),
        ("jit(step)/transpose(jvp(tcenet))/raft/dot_general", ("raft", "backward")),
        ("jit(step)/jvp(vgg)/reduce_max", ("vgg", "forward")),
        ("jit(step)/optimizer/mul", ("other", "forward")),
        ("jit(step)/transpose(jvp(tcenet_like))/add", ("other", "backward")),
        ("", ("unnamed", "unknown")),
    ],
)
def test_a_name_stack_gives_the_first_listed_scope_and_the_pass(op_name, scope):
    assert profiling.scope_of(op_name, ("raft", "vgg", "tcenet")) == scope


def test_scope_table_splits_time_by_scope_and_pass():
    profile = [
        profiling.OpTime("a", "convolution", 0.3, "f32", "jit(s)/jvp(tcenet)/conv"),
        profiling.OpTime("b", "convolution", 0.6, "f32", "jit(s)/transpose(jvp(tcenet))/conv"),
        profiling.OpTime("c", "elementwise", 0.1, "", "jit(s)/optimizer/mul"),
        profiling.OpTime("d", "convolution", 0.05, "f32", ""),
    ]
    totals = profiling.seconds_by_scope(profile, ("tcenet",))
    assert totals[("tcenet", "forward")] == 0.3 and totals[("tcenet", "backward")] == 0.6
    assert totals[("other", "forward")] == 0.1 and totals[("unnamed", "unknown")] == 0.05
    table = profiling.scope_table(profile, ("tcenet",))
    assert re.search(r"tcenet\s+300\.0 ms\s+28\.6 %\s+600\.0 ms\s+57\.1 %", table), table
    assert re.search(r"unnamed\s+0\.0 ms\s+0\.0 %\s+0\.0 ms\s+0\.0 %\s+50\.0 ms\s+4\.8 %", table)
