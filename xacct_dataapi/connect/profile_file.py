"""`connect --write` and teardown: the AWS config file's `[profile xacct-<name>]` section that connect writes for a
deployment, merged in (only a section it wrote itself is replaced) and removed after a teardown, each time keeping
the previous file as <file>.xacct-backup."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from xacct_dataapi.errors import UsageError
from xacct_dataapi.state import atomic_write

MARKER = "# managed by xacct connect, deployment "
_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]\s*$")


def config_path() -> Path:
    """The AWS config file every SDK reads: AWS_CONFIG_FILE, else ~/.aws/config."""
    return Path(os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"))


def _sections(text: str) -> list[tuple[str | None, list[str]]]:
    """The file as (header name, lines) in order; lines before the first header have the name None."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines(keepends=True):
        m = _SECTION_RE.match(line)
        if m:
            sections.append((" ".join(m.group(1).split()), [line]))
        else:
            sections[-1][1].append(line)
    return sections


def merge_profile(text: str, block: str, profile_name: str, deployment: str) -> str:
    """`text` with the section `[profile NAME]` replaced by `block` (or `block` appended). Refuses (exit 2) to
    replace a section that xacct connect did not write for this deployment."""
    header = f"profile {profile_name}"
    sections = _sections(text)
    found = [i for i, (name, _) in enumerate(sections) if name == header]
    if not found:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return text + sep + block
    for i in found:
        if f"{MARKER}{deployment}\n" not in "".join(sections[i][1]):
            raise UsageError(f"The AWS config already has a section [{header}] that xacct connect did not write for "
                             f"deployment {deployment!r}; it was left untouched.",
                             "Pass another --profile-name, or remove that section yourself.")
    out: list[str] = []
    for i, (_, lines) in enumerate(sections):
        if i == found[0]:
            trailing = "\n" if i != len(sections) - 1 else ""
            out.append(block + trailing)
        elif i not in found:
            out.extend(lines)
    return "".join(out)


def write_profile(block: str, profile_name: str, deployment: str, path: Path | None = None) -> tuple[Path, bool]:
    """Merge the block into the AWS config file; keep the previous file as <file>.xacct-backup.
    Returns (path, changed). Idempotent: the same block twice changes nothing the second time."""
    path = path or config_path()
    old = path.read_text() if path.exists() else ""
    new = merge_profile(old, block, profile_name, deployment)
    if new == old:
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    if path.exists():
        shutil.copy2(path, path.with_name(path.name + ".xacct-backup"))
    atomic_write(path, new.encode(), mode=mode)
    return path, True


def remove_profiles(deployment: str, path: Path | None = None) -> list[str]:
    """After a teardown: remove the sections `connect --write` added for this deployment (its marker line names the
    deployment; nothing else is touched), keeping the previous file as <file>.xacct-backup. Returns their names."""
    path = path or config_path()
    if not path.exists():
        return []
    old = path.read_text()
    sections = _sections(old)
    ours = [i for i, (name, lines) in enumerate(sections)
            if name is not None and any(line.rstrip("\n") == f"{MARKER}{deployment}" for line in lines)]
    if not ours:
        return []
    new = "".join(line for i, (_, lines) in enumerate(sections) if i not in ours for line in lines)
    shutil.copy2(path, path.with_name(path.name + ".xacct-backup"))
    atomic_write(path, new.encode(), mode=path.stat().st_mode & 0o777)
    return [f"[{sections[i][0]}]" for i in ours]
