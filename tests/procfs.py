"""What /proc says of a process's memory: the files it maps, and how much of them is resident."""

from __future__ import annotations

from pathlib import Path

RESIDENT = ("Rss:",)
# Resident pages no other process maps. A file page another process also has resident (the test
# runner imports chDB too) is shared: madvise(MADV_PAGEOUT) leaves it, and it is not this
# process's own cost, so what a process hands back is measured on its private pages.
PRIVATE = ("Private_Clean:", "Private_Dirty:")


def resident_kb(fragment: str, pid: int | str = "self", kinds: tuple[str, ...] = RESIDENT) -> int:
    """KiB resident (or of the `kinds` of smaps counts given) of the mappings whose path contains `fragment`."""
    total, inside = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if "-" in head[0]:  # a mapping's header line: address range, perms, offset, dev, inode[, path]
            inside = len(head) == 6 and fragment in head[5]
        elif inside and head[0] in kinds:
            total += int(head[1])
    return total


def mapped_files(pid: int | str = "self") -> set[str]:
    """Paths (and pseudo-paths such as [heap]) of every mapping of the process."""
    rows = (line.split(maxsplit=5) for line in Path(f"/proc/{pid}/maps").read_text().splitlines())
    return {fields[5] for fields in rows if len(fields) == 6}
