"""``[precision] compile``: torch.compile's modes, and the switch that older profiles wrote.

"off" leaves the model as it is; "default", "reduce-overhead" (CUDA graphs) and "max-autotune" are
``torch.compile``'s modes (``annokit.training.precision.maybe_compile``). Profiles written when the
setting was a switch still load: false is "off", true is "default".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator

CompileMode = Literal["off", "default", "reduce-overhead", "max-autotune"]
COMPILE_MODES: tuple[str, ...] = get_args(CompileMode)


def compile_from_switch(value: Any) -> Any:
    """An older profile's switch as a mode (false: "off", true: "default"); any other value as it
    is, for the mode check."""
    if isinstance(value, bool):
        return "default" if value else "off"
    return value


# a mode, or the old switch; the JSON schema accepts both
CompileSetting = Annotated[
    CompileMode,
    BeforeValidator(compile_from_switch, json_schema_input_type=CompileMode | bool),
]
