"""What a test reads off a run: the text a notebook cell showed, and the processes still running."""

from __future__ import annotations

from pathlib import Path


def cell_text(cell) -> str:
    """What a cell printed, showed (text/plain) or raised (`ename: evalue`), in order."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def processes_with(marker: str) -> list[str]:
    """Command lines of this machine's processes that mention `marker`."""
    return list(marked_processes(marker).values())


def marked_processes(marker: str) -> dict[int, str]:
    """pid -> command line of this machine's processes that mention `marker`."""
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in line:
            found[int(cmdline.parent.name)] = line
    return found
