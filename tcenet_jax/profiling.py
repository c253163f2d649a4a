"""Per-operation profile of a compiled XLA program: where the time goes, by kind of work.

The program runs under ``jax.profiler.trace``; every XLA:CPU thunk (one HLO instruction
of the optimised module: a fusion, a convolution, a copy) appears as a trace event named
after its instruction. Each instruction is classified from the optimised HLO text
(convolution, dot, conversion, data movement, reduction, elementwise) and its events'
durations are summed over all threads (CPU time, not wall time) and divided by the runs.
For convolutions and dots the operand dtype they are computed in is recorded: a bfloat16
program whose convolutions read float32 operands was upcast by the compiler. Each
instruction also keeps its JAX name stack (``op_name``), so that time can be split by
``jax.named_scope`` (e.g. the generator, RAFT, VGG of a train step), forward and backward.
Only traced time is counted: hand-offs between threads and work that a thunk leaves to
untraced pool tasks are not, so the CPU total can fall below the wall time (it does for
programs of thousands of small operations); the shares are shares of the traced time.
"""

from __future__ import annotations

import collections
import dataclasses
import pathlib
import re
import tempfile
from collections.abc import Iterable, Sequence

import jax

KINDS = (
    "convolution",
    "dot",
    "conversion",
    "data movement",
    "reduction",
    "elementwise",
    "other",
)
_DATA_MOVEMENT = {
    "bitcast",
    "broadcast",
    "concatenate",
    "constant",
    "copy",
    "dynamic-slice",
    "dynamic-update-slice",
    "gather",
    "iota",
    "pad",
    "parameter",
    "reshape",
    "reverse",
    "scatter",
    "slice",
    "transpose",
    "tuple",
    "get-tuple-element",
}
_CONTAINERS = {"while", "conditional", "call"}
_COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) \(.*\) -> .* \{$")
_INSTRUCTION = re.compile(
    r"^\s*(?:ROOT )?%?([\w.\-]+) = (\(.*?\)|[a-z0-9]+\[[^\]]*\](?:\{[^}]*\})?|[a-z0-9]+\[\]) "
    r"([a-z\-]+)\(([^)]*)\)(.*)$"
)
_CALLS = re.compile(r"calls=%?([\w.\-]+)")
_OP_NAME = re.compile(r'op_name="([^"]*)"')
_WRAPPER = re.compile(r"^\w+\((.*)\)$")  # jvp(scope), transpose(jvp(scope)), ...


@dataclasses.dataclass(frozen=True)
class Instruction:
    """One HLO instruction: its opcode, result type and, for fusions, the fused computation."""

    opcode: str
    result_type: str
    operands: tuple[str, ...]
    calls: str | None
    op_name: str = ""


@dataclasses.dataclass(frozen=True)
class OpTime:
    """CPU time of one HLO instruction per run of the program.

    ``compute_dtype``: for convolutions and dots, the element type of their operands
    (e.g. ``"bf16"``, ``"f32"``); empty otherwise. ``op_name``: its JAX name stack.
    """

    name: str
    kind: str
    seconds: float
    compute_dtype: str
    op_name: str = ""


def parse_hlo(hlo_text: str) -> dict[str, dict[str, Instruction]]:
    """Computation name -> instruction name -> instruction, for an HLO module's text."""
    computations: dict[str, dict[str, Instruction]] = {}
    current: dict[str, Instruction] | None = None
    for line in hlo_text.splitlines():
        header = _COMPUTATION.match(line.strip())
        if header:
            current = computations.setdefault(header.group(1), {})
            continue
        match = _INSTRUCTION.match(line)
        if match and current is not None:
            name, result_type, opcode, operands, attributes = match.groups()
            calls = _CALLS.search(attributes)
            op_name = _OP_NAME.search(attributes)
            current[name] = Instruction(
                opcode=opcode,
                result_type=result_type,
                operands=tuple(o.strip().lstrip("%") for o in operands.split(",") if o.strip()),
                calls=calls.group(1) if calls else None,
                op_name=op_name.group(1) if op_name else "",
            )
    return computations


def _element_type(type_text: str) -> str:
    return type_text.split("[", 1)[0].strip("(")


def classify(
    instruction: Instruction,
    owner: dict[str, Instruction],
    computations: dict[str, dict[str, Instruction]],
) -> tuple[str, str]:
    """(kind, compute dtype) of one instruction of the computation ``owner``.

    Kind ``"container"`` for loops and calls (their bodies' instructions are timed).
    """
    if instruction.opcode in _CONTAINERS:
        return "container", ""
    if instruction.opcode == "fusion" and instruction.calls in computations:
        body, ops = computations[instruction.calls], computations[instruction.calls].values()
    else:
        body, ops = owner, (instruction,)
    opcodes = {i.opcode for i in ops}
    for kind in ("convolution", "dot"):
        if kind in opcodes:
            op = next(i for i in ops if i.opcode == kind)
            operand = body.get(op.operands[0]) if op.operands else None
            return kind, _element_type(operand.result_type) if operand else ""
    if opcodes & {"reduce", "reduce-window", "sort"}:
        return "reduction", ""
    if opcodes <= _DATA_MOVEMENT | {"convert"} and "convert" in opcodes:
        return "conversion", ""
    if opcodes <= _DATA_MOVEMENT:
        return "data movement", ""
    if instruction.opcode == "custom-call":
        return "other", ""
    return "elementwise", ""


def _trace_events(log_dir: pathlib.Path) -> Iterable[tuple[str, int]]:
    """(event name, duration in ns) of every host event in the trace written to log_dir."""
    (path,) = log_dir.glob("**/*.xplane.pb")
    profile = jax.profiler.ProfileData.from_file(str(path))
    for plane in profile.planes:
        for line in plane.lines:
            for event in line.events:
                yield event.name, event.duration_ns


def profile_ops(compiled, *args, runs: int = 3) -> list[OpTime]:
    """Per-instruction CPU time of ``compiled(*args)`` (a ``jax.stages.Compiled``).

    Runs it once untraced, then ``runs`` times under the profiler. Returns the
    instructions that took time, slowest first.
    """
    computations = parse_hlo(compiled.as_text())
    owners = {n: body for body in computations.values() for n in body}
    jax.block_until_ready(compiled(*args))
    with tempfile.TemporaryDirectory() as log_dir:
        with jax.profiler.trace(log_dir):
            for _ in range(runs):
                jax.block_until_ready(compiled(*args))
        durations: collections.Counter[str] = collections.Counter()
        for name, duration_ns in _trace_events(pathlib.Path(log_dir)):
            if name in owners:
                durations[name] += duration_ns
    profile = []
    for name, duration_ns in durations.most_common():
        instruction = owners[name][name]
        kind, dtype = classify(instruction, owners[name], computations)
        if kind != "container":
            seconds = duration_ns / 1e9 / runs
            profile.append(OpTime(name, kind, seconds, dtype, instruction.op_name))
    return profile


def seconds_by_kind(profile: Iterable[OpTime]) -> dict[str, float]:
    """CPU seconds per run for each of ``KINDS`` (zero where absent)."""
    totals = dict.fromkeys(KINDS, 0.0)
    for op in profile:
        totals[op.kind] += op.seconds
    return totals


PASSES = ("forward", "backward", "unknown")


def scope_of(op_name: str, scopes: Sequence[str]) -> tuple[str, str]:
    """(scope, pass) of a JAX name stack: the first of ``scopes`` named in it, else
    ``"other"``; pass ``"backward"`` inside a ``transpose(...)``, else ``"forward"``. An
    empty stack (an instruction XLA made itself, e.g. while rewriting a strided
    convolution's gradient) is ``("unnamed", "unknown")``."""
    if not op_name:
        return "unnamed", "unknown"
    direction = "backward" if "transpose(" in op_name else "forward"
    names = set()
    for component in op_name.split("/"):
        while match := _WRAPPER.match(component):
            component = match.group(1)
        names.add(component)
    return next((scope for scope in scopes if scope in names), "other"), direction


def seconds_by_scope(profile: Iterable[OpTime], scopes: Sequence[str]) -> dict[tuple, float]:
    """CPU seconds per run by (scope, pass), for ``scopes``, ``"other"`` and ``"unnamed"``."""
    totals = {(s, p): 0.0 for s in (*scopes, "other", "unnamed") for p in PASSES}
    for op in profile:
        totals[scope_of(op.op_name, scopes)] += op.seconds
    return totals


def _cell(seconds: float, whole: float) -> str:
    """A table cell: milliseconds and the share of ``whole`` (seconds)."""
    return f"{seconds * 1e3:11.1f} ms {100 * seconds / (whole or 1.0):5.1f} %"


def scope_table(profile: list[OpTime], scopes: Sequence[str]) -> str:
    """A text table: CPU seconds and shares by named scope and pass."""
    totals = seconds_by_scope(profile, scopes)
    whole = sum(totals.values())
    lines = ["scope".ljust(14) + "".join(f"{p:>22}" for p in PASSES)]
    for scope in (*scopes, "other", "unnamed"):
        cells = [_cell(totals[scope, p], whole) for p in PASSES]
        lines.append(scope.ljust(14) + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def compute_dtypes(profile: Iterable[OpTime], kind: str) -> dict[str, float]:
    """CPU seconds per run of the instructions of ``kind``, by the dtype they compute in."""
    totals: dict[str, float] = collections.defaultdict(float)
    for op in profile:
        if op.kind == kind:
            totals[op.compute_dtype] += op.seconds
    return dict(totals)


def profile_table(profiles: dict[str, list[OpTime]], wall_seconds: dict[str, float]) -> str:
    """A text table: CPU seconds and shares by kind, one column pair per profile."""
    by_kind = {label: seconds_by_kind(p) for label, p in profiles.items()}
    traced = {label: sum(by_kind[label].values()) for label in profiles}
    header = "kind".ljust(14) + "".join(f"{label:>22}" for label in profiles)
    lines = [header]
    for kind in KINDS:
        cells = [_cell(by_kind[label][kind], traced[label]) for label in profiles]
        lines.append(kind.ljust(14) + "".join(f"{c:>22}" for c in cells))
    lines.append(
        "CPU total".ljust(14)
        + "".join(f"{traced[label] * 1e3:11.1f} ms        " for label in profiles)
    )
    lines.append(
        "wall".ljust(14)
        + "".join(f"{wall_seconds[label] * 1e3:11.1f} ms        " for label in profiles)
    )
    for label, profile in profiles.items():
        for kind in ("convolution", "dot"):
            dtypes = compute_dtypes(profile, kind)
            if dtypes:
                shares = ", ".join(
                    f"{d or '?'} {s * 1e3:.1f} ms" for d, s in sorted(dtypes.items())
                )
                lines.append(f"{label}: {kind}s computed in {shares}")
    return "\n".join(lines)
