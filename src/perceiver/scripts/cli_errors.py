"""One-line CLI errors: what jsonargparse reports in a page of usage and nested union errors, and what a class
raises while the CLI builds it, become one line that names the cause and, for an unknown option or class, the
nearest valid one."""

import difflib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

DEBUG_VARIABLE = "JSONARGPARSE_DEBUG"  # jsonargparse's own switch: raise instead of exiting

# nested errors that only say which of a union's alternatives did not match
_GENERIC = (
    re.compile(r"^Expected a <class '(NoneType|bool)'>"),
    re.compile(r"^Expected a <class 'collections\.abc\.Iterable'>"),
    re.compile(r"^Expected a path but .* either not accessible or invalid"),
    re.compile(r"^Does not validate against any of the Union subtypes"),
    re.compile(r"^Subtypes: "),
    re.compile(r"^Errors:"),
    re.compile(r"^Given value"),
)


def debug_mode() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").lower() in ("1", "true", "yes")


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` as the first line of the output (and a hint) and exit with status 2."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.write(f"(all options: --help; the full traceback: {DEBUG_VARIABLE}=1)\n")
    raise SystemExit(2)


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    match = nearest(name, candidates)
    return f" (did you mean {match}?)" if match else ""


def parser_keys(parser: Any) -> list[str]:
    """The option keys a parser accepts (``trainer.max_steps``, ``model.encoder.init_scale`` ...)."""
    keys = []
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith("--"):
                keys.append(option[2:])
    return keys


def _subclasses(base: type) -> set[type]:
    found, todo = set(), [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def import_object(path: str) -> Any:
    """The object a dotted path names, or None."""
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None


def init_parameters(cls: type) -> list[str]:
    """Names ``cls(...)`` accepts, following ``**kwargs`` into the base classes' ``__init__``."""
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            break
        names += [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"]
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return names


def _details(message: str) -> list[str]:
    lines = [line.strip().lstrip("- ").strip() for line in message.splitlines()]
    return [line for line in lines if line and not any(p.match(line) for p in _GENERIC)]


def summarize_parse_error(message: str, parser: Any = None) -> str:
    """One line for a jsonargparse error message (``parser``: the parser that reported it, for suggestions)."""
    keys = parser_keys(parser) if parser is not None else []
    if match := re.search(r"does not accept option '([^']+)'", message):
        key = match.group(1)
        return f"unknown option {key}{_did_you_mean(key, keys)}"
    if match := re.search(r"unrecognized arguments: (.+)", message):
        unknown = [arg.split("=")[0].lstrip("-") for arg in match.group(1).split() if arg.startswith("--")]
        if unknown:
            parts = [f"{key}{_did_you_mean(key, keys)}" for key in unknown]
            return f"unknown option{'s' if len(parts) > 1 else ''} " + ", ".join(parts)
        return f"unrecognized arguments: {match.group(1).strip()}"
    key_match = re.search(r'Parser key "([^"]+)"', message)
    key = key_match.group(1) if key_match else None
    prefix = f"{key}: " if key else ""
    if not key and (given := re.search(r"class_path='([\w.]+)'", message)):
        prefix = f"{given.group(1).rpartition('.')[2]}: "  # a class that refused its arguments
    if match := re.search(r"Expected a dot import path string: (\S+)", message):
        name = match.group(1)
        bases = [import_object(path) for path in re.findall(r"<class '([\w.]+)'>", message)]
        names = {cls.__name__ for base in bases if isinstance(base, type) for cls in _subclasses(base)}
        return f"{prefix}{name} is not a known class{_did_you_mean(name, names)}"
    if match := re.search(r"Problem with given class_path '([\w.]+)':\s*(.+)", message):
        class_path, reason = match.group(1), match.group(2).strip()
        name = class_path.rpartition(".")[2]
        if option := re.search(r"Option '([^']+)' is not accepted", reason):
            cls = import_object(class_path)
            valid = init_parameters(cls) if isinstance(cls, type) else []
            return f"{prefix}{name} has no option {option.group(1)}{_did_you_mean(option.group(1), valid)}"
        return f"{prefix}{name}: {reason}"
    details = [re.sub(r'^Parser key "[^"]+":\s*', "", line) for line in _details(message)]
    details = [line for line in details if line]
    detail = details[0] if details else message.strip().splitlines()[0]
    detail = re.sub(r"Expected a <class '([\w.]+)'>\. Got value: (.*)", r"expected \1, got \2", detail)
    return prefix + re.sub(r"<class '([\w.]+)'>", r"\1", detail)


def summarize_exception(error: BaseException) -> str:
    """One line for an exception raised while the CLI builds its classes."""
    message = str(error)
    if "Does not validate against any of the Union subtypes" in message or "Parser key" in message:
        return summarize_parse_error(message)
    first = message.strip().splitlines()[0] if message.strip() else type(error).__name__
    return f"{type(error).__name__}: {first}"
