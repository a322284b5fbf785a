"""Add every new msgid from the code and templates to the Chinese catalog (`python scripts/i18n_sync.py`).

New entries get an empty msgstr; fill them in. `--check` only lists the untranslated ones and
exits 1 if there are any (the test suite runs that check). A string used with ngettext becomes a
plural entry (msgid_plural, one msgstr per plural form: Chinese has one); an entry counts as
translated only when every one of its forms is.
"""
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "ota" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
METHODS = [("ota/**.py", "python"), ("ota/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "lazy_ngettext": (1, 2)}


def extracted_ids() -> dict[str, tuple[str | tuple[str, str], str]]:
    """Return msgid -> (its catalog id: the msgid, or (singular, plural) for ngettext; first place used)."""
    found: dict[str, tuple[str | tuple[str, str], str]] = {}
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, options_map={"ota/templates/**.html": {"extensions": "jinja2.ext.do"}},
    ):
        key = (message[0], message[1]) if isinstance(message, (tuple, list)) else message
        msgid = key[0] if isinstance(key, tuple) else key
        found.setdefault(msgid, (key, f"{filename}:{lineno}"))
    return found


def extracted() -> dict[str, str]:
    """Return msgid -> first place it is used, for every translatable string in the package."""
    return {msgid: where for msgid, (_key, where) in extracted_ids().items()}


def translated(cat: Catalog, key) -> bool:
    """Return whether the catalog holds key in the right shape (plural or not) with every form filled."""
    entry = cat.get(key[0] if isinstance(key, tuple) else key)
    if entry is None or entry.pluralizable != isinstance(key, tuple):
        return False  # gettext cannot find a plural entry, nor ngettext a singular one
    if not entry.pluralizable:
        return bool(entry.string)
    forms = entry.string if isinstance(entry.string, (tuple, list)) else (entry.string,)
    return len(forms) >= cat.num_plurals and all(forms)


def load() -> Catalog:
    """Read the Chinese catalog (or start one)."""
    if not PO.exists():
        return Catalog(locale="zh", project="ota-console")
    with PO.open("rb") as f:
        return read_po(f)


def missing() -> list[tuple[str, str]]:
    """Return (msgid, where) for every used string without a Chinese translation."""
    cat = load()
    return [(m, w) for m, (key, w) in extracted_ids().items() if not translated(cat, key)]


def main(argv: list[str]) -> int:
    """Sync, or check with --check."""
    if "--check" in argv:
        gaps = missing()
        for msgid, where in gaps:
            print(f"untranslated: {msgid!r} ({where})")
        return 1 if gaps else 0
    cat = load()
    added = 0
    for msgid, (key, where) in extracted_ids().items():
        entry = cat.get(msgid)
        plural = isinstance(key, tuple)
        if entry is not None and entry.pluralizable == plural:
            continue
        if entry is not None:  # now used with (or without) ngettext: the entry changes shape
            cat.delete(msgid)
        string = ("",) * cat.num_plurals if plural else ""
        cat.add(key, string, locations=[(where.rsplit(":", 1)[0], int(where.rsplit(":", 1)[1]))])
        added += 1
    cat.fuzzy = False
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as f:
        write_po(f, cat, width=0, omit_header=False, sort_output=True, no_location=True)
    print(f"{added} new msgids added to {PO.relative_to(ROOT)}; fill in their msgstr")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
