"""The file inventory of one day, read from git, built from the day before where a range run can.

A backfill's days differ by tens of files out of thousands, yet building a day alone reads every blob,
tokenises every text for references and reads the whole ``git log`` again (issue 11: ``file_inventory``
cost about a cold snapshot per day). Given the previous day's :class:`InventoryCarry`, a day reads only
the files whose listing entry changed (what ``git diff-tree -r`` between the two commits would print:
the listings are already in hand, so no extra git process), reuses every other file's row facts,
updates who-mentions-whom from the changed files (and, for names new that day, a search of the
others' texts, kept from the days before up to :data:`CARRIED_TEXT_BYTES`), and reads only the commits
since from ``git log``. The rows are the same as building the day
alone: ``test_range_equals_days`` compares them cell by cell, and ``test_inventory_days`` checks each
part on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from symphony_assets.analysis.filetypes import is_binary
from symphony_assets.analysis.inventory import (
    ContentFacts,
    HistoryFacts,
    InventoryFile,
    build_inventory,
    content_facts,
    reference_name,
    referrer_text,
)
from symphony_assets.analysis.references import ReferenceIndex
from symphony_assets.resources.git import FileEntry, PathHistory, ReadResult, Snapshot, display_path


@dataclass(frozen=True)
class InventoryCarry:
    """What the next day of a range starts from: this day's listing, each file's row facts (without its
    bytes), who mentions whom (updated in place by the next day), and the per-path history."""

    listing: dict[bytes, FileEntry]
    files: dict[bytes, tuple[InventoryFile, ContentFacts]]
    references: ReferenceIndex
    history: PathHistory | None
    #: Referrers' texts by reference name, for the names a later day adds (bounded; the rest are read
    #: from git again when needed).
    texts: dict[str, bytes]

    @classmethod
    def nothing(cls) -> InventoryCarry:
        """A day before any file: building from it reads every file and the whole history."""
        return cls({}, {}, ReferenceIndex(), None, {})


#: At most this many bytes of referrer texts carried from one day to the next. Most days add a file or
#: two, so every unchanged referrer is searched for the new names; reading them from git again cost
#: 55,000 reads over a 61-day range of 2,200 files. The texts of such a codebase are ~15 MB.
CARRIED_TEXT_BYTES = 128 << 20


@dataclass(frozen=True)
class InventoryDay:
    rows: list[dict[str, object]]
    #: Files whose bytes were read for this day (all of them, unless built from the day before).
    files_read: int
    carry: InventoryCarry | None


def inventory_file(read: ReadResult) -> InventoryFile:
    e = read.entry
    return InventoryFile(
        path=e.path,
        raw_path=e.raw_path,
        path_is_utf8=e.path_is_utf8,
        kind=e.kind,
        tracked=e.tracked,
        ignored=e.ignored,
        git_status=e.git_status,
        blob_id=read.blob_id,
        size=e.size,
        mtime=e.mtime,
        link_target=e.link_target,
        content=read.content,
        read_status=read.status if e.kind == "file" else e.kind,
        read_message=read.message,
    )


def inventory_day(snapshot: Snapshot, carry: InventoryCarry | None = None) -> InventoryDay:
    """This day's rows (sorted by path bytes); from ``carry`` (the previous day of the same codebase)
    when both days are commits, else from every file. A live working tree is always read whole and
    carries nothing to the next day."""
    committed = not snapshot.live and snapshot.commit is not None and snapshot.repo is not None
    previous = carry if carry is not None and committed else InventoryCarry.nothing()
    changed = [e for e in snapshot.files if previous.listing.get(e.raw_path) != e]
    fresh = {f.raw_path: (f, content_facts(f)) for f in map(inventory_file, snapshot.read(changed))}
    kept = {e.raw_path: previous.files[e.raw_path] for e in snapshot.files if e.raw_path not in fresh}
    both = {**kept, **fresh}
    ordered = [both[raw] for raw in sorted(both)]
    files = [f for f, _ in ordered]
    names = [reference_name(f) for f in files]
    references = previous.references
    changed_texts = [(reference_name(f), referrer_text(f)) for f, _ in fresh.values()]
    kept_names = {reference_name(f) for f, _ in kept.values()}
    texts = {name: text for name, text in previous.texts.items() if name in kept_names}
    references.update(
        names,
        changed_texts,
        lambda wanted: _texts(snapshot, texts, [f for f, _ in kept.values() if reference_name(f) in wanted]),
    )
    history = snapshot.path_history(previous.history)
    rows = build_inventory(
        files,
        _by_display(history),
        live=snapshot.live,
        facts=[fact for _, fact in ordered],
        references=references.counts(names),
    )
    if not committed:
        return InventoryDay(rows, len(fresh), None)
    next_carry = InventoryCarry(
        listing={e.raw_path: e for e in snapshot.files},
        files={**kept, **{raw: (replace(f, content=None), fact) for raw, (f, fact) in fresh.items()}},
        references=references,
        history=history,
        texts=_carried(texts, changed_texts),
    )
    return InventoryDay(rows, len(fresh), next_carry)


def _carried(kept: dict[str, bytes], changed: Sequence[tuple[str, bytes | None]]) -> dict[str, bytes]:
    """The texts the next day starts from: the unchanged ones still carried, then today's changed
    referrers (never a binary file: it is no referrer), while the total stays within the bound."""
    texts = dict(kept)
    total = sum(len(t) for t in texts.values())
    for name, text in changed:
        if text is not None and total + len(text) <= CARRIED_TEXT_BYTES and not is_binary(text):
            texts[name] = text
            total += len(text)
    return texts


def _texts(
    snapshot: Snapshot, carried: dict[str, bytes], files: Sequence[InventoryFile]
) -> Iterator[tuple[str, bytes]]:
    """The bytes of unchanged referrers for the names new today: carried from the days before, or
    read again from git."""
    by_raw = {}
    for f in files:
        name = reference_name(f)
        if name in carried:
            yield name, carried[name]
        else:
            by_raw[f.raw_path] = f
    entries = [e for e in snapshot.files if e.raw_path in by_raw]
    for read in snapshot.read(entries):
        text = referrer_text(inventory_file(read))
        if text is not None:
            yield reference_name(by_raw[read.entry.raw_path]), text


def _by_display(history: PathHistory | None) -> dict[str, HistoryFacts]:
    if history is None:
        return {}
    return {
        display_path(path): HistoryFacts(h.last_author, h.last_commit_time, h.commit_count)
        for path, h in history.files.items()
    }
