"""Option values turned into Python values without pydantic.

Why: typer 0.2x coerces every option value, even an absent one, through a pydantic `TypeAdapter`. The first command
line that carries a str/int/float/Path option imports pydantic and scans the installed packages' entry points for
pydantic plugins: about 80 ms of every `xacct` run (`python -X importtime`; measured in docs/benchmarks.md), longer
than a request to AWS. xacct's options are only str, bool, int, float (with min/max), Path and list[str], whose
coercion is a line each. `use_plain_coercion()` makes typer use the functions below for exactly those annotations and
keeps typer's own path for anything else; with a typer without these internals (older or newer) it changes nothing,
so the worst case is the old start-up time, never a wrong value. tests/test_startup.py checks both the values
and that a command run does not import pydantic.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, get_args, get_origin

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}


class OptionValueError(ValueError):
    """The message typer shows as "Invalid value for '--option': <message>" (exit 2)."""


def to_str(value: Any, info: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def to_bool(value: Any, info: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise OptionValueError(f"{value!r} is not a yes/no value: use true or false.")


def _in_range(number: float, value: Any, info: Any) -> None:
    # Short enough that "Error: Invalid value for '--wait-timeout': …" fits in 80 columns.
    low, high = info.min, info.max
    if low is not None and number < low:
        raise OptionValueError(f"{value!r} is below the minimum, {low:g}.")
    if high is not None and number > high:
        raise OptionValueError(f"{value!r} is above the maximum, {high:g}.")


def _ascii_text(value: Any) -> str:
    # int() and float() also take other scripts' digits ("８"); an option value is typed in ASCII.
    text = str(value).strip()
    if not text.isascii():
        raise ValueError(text)
    return text


def to_int(value: Any, info: Any) -> int:
    if isinstance(value, bool):
        raise OptionValueError(f"{value!r} is not a whole number.")
    try:
        number = int(_ascii_text(value), 10) if not isinstance(value, int) else value
    except ValueError:
        raise OptionValueError(f"{value!r} is not a whole number.") from None
    _in_range(number, value, info)
    return number


def to_float(value: Any, info: Any) -> float:
    if isinstance(value, bool):
        raise OptionValueError(f"{value!r} is not a number.")
    try:
        number = float(_ascii_text(value)) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise OptionValueError(f"{value!r} is not a number.") from None
    if not math.isfinite(number):
        raise OptionValueError(f"{value!r} is not a finite number.")
    _in_range(number, value, info)
    return number


PLAIN = {str: to_str, bool: to_bool, int: to_int, float: to_float}


def converter_for(annotation: Any, info: Any):
    """The plain converter for `annotation` with typer's ParameterInfo `info`, or None when typer's own coercion is
    needed (a custom parser, clamp, a file, an enum, a date, …)."""
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return None
    if getattr(info, "clamp", False):
        return None
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (None,)
        one = converter_for(item, info)
        return (lambda value, info: [one(v, info) for v in value]) if one is not None else None
    if annotation is Path:
        return _to_path
    return PLAIN.get(annotation)


def _to_path(value: Any, info: Any) -> Any:
    # An S3 location (team state: --state s3://BUCKET/PREFIX/) is no local path: Path() would fold its "//".
    if isinstance(value, str) and value.startswith("s3://"):
        from xacct_dataapi.errors import UsageError
        from xacct_dataapi.state_s3 import S3Location

        try:
            return S3Location.parse(value)
        except UsageError as e:
            raise OptionValueError(str(e)) from None
    # typer's own checks (exists, file_okay, dir_okay, readable, writable, resolve_path), with path_type=None: the
    # check returns the plain string; only typer's conversion of that string to Path goes through pydantic.
    from typer._click.exceptions import BadParameter
    from typer._param_types import coerce_cli_path

    try:
        return Path(coerce_cli_path(value, info, path_type=None))
    except BadParameter as e:
        raise OptionValueError(e.message) from None


def use_plain_coercion() -> bool:
    """Make typer coerce xacct's option values with the converters above. Returns False (and changes nothing) when
    typer does not have the internals this relies on."""
    try:
        import dataclasses

        import typer.core as typer_core
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:
        return False
    typers_own = getattr(typer_core, "build_runtime_param", None)
    if typers_own is None or getattr(typers_own, "xacct_plain", False):
        return typers_own is not None

    @dataclasses.dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):
        convert: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value, self.parameter_info)
            except OptionValueError as e:
                raise BadParameter(str(e), ctx=ctx, param=param) from None

    def build_runtime_param(descriptor: Any) -> Any:
        convert = None
        if getattr(descriptor, "file_annotation", None) is None:
            convert = converter_for(descriptor.annotation, descriptor.parameter_info)
        if convert is None:
            return typers_own(descriptor)
        return PlainRuntimeParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                                 convert=convert)

    build_runtime_param.xacct_plain = True  # type: ignore[attr-defined]
    typer_core.build_runtime_param = build_runtime_param
    return True
