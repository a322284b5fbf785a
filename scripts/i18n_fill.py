"""Fill Chinese translations from a JSON object {msgid: msgstr} (`python scripts/i18n_fill.py FILE`).

Only touches the given msgids, adding them when missing, so helpers editing in parallel do not
overwrite each other's entries for long. For a plural entry (ngettext; run i18n_sync.py first) the
msgstr may be one string, used for every plural form (Chinese has one), or a list of the forms.
"""
import json
import sys

from babel.messages.pofile import write_po

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from i18n_sync import PO, load  # noqa: E402


def main(argv: list[str]) -> int:
    """Merge the translations and rewrite the catalog."""
    pairs = json.loads(open(argv[1], encoding="utf-8").read())
    cat = load()
    for msgid, msgstr in pairs.items():
        if cat.get(msgid) is None:
            cat.add(msgid, msgstr)
        else:
            entry = cat[msgid]
            if entry.pluralizable:
                forms = [msgstr] * cat.num_plurals if isinstance(msgstr, str) else list(msgstr)
                entry.string = tuple(forms)
            else:
                entry.string = msgstr
            entry.flags.discard("fuzzy")
    cat.fuzzy = False
    with PO.open("wb") as f:
        write_po(f, cat, width=0, sort_output=True, no_location=True)
    print(f"{len(pairs)} translations merged into {PO.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
