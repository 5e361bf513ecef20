"""extensions.py SITE [--strip NAME]: the distributions installed in SITE that hold compiled
extension modules (native code, which a wasm component cannot load), one `name version` a
line; with --strip NAME, deletes NAME's compiled files instead (after its pure-Python build
has been installed over it)."""

import csv
import pathlib
import sys

NATIVE_SUFFIXES = (".so", ".pyd", ".dylib")


def distributions(site):
    for record in sorted(site.glob("*.dist-info/RECORD")):
        meta = {}
        for line in (record.parent / "METADATA").read_text(errors="replace").splitlines():
            if not line:
                break
            key, _, value = line.partition(": ")
            meta.setdefault(key, value)
        with record.open(newline="") as f:
            files = [row[0] for row in csv.reader(f) if row]
        native = [f for f in files if f.endswith(NATIVE_SUFFIXES) or ".so." in f]
        yield meta.get("Name", record.parent.name), meta.get("Version", "?"), native


def main():
    site = pathlib.Path(sys.argv[1])
    strip = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--strip" else None
    for name, version, native in distributions(site):
        if strip is not None:
            if name.lower().replace("_", "-") == strip.lower().replace("_", "-"):
                for file in native:
                    (site / file).unlink(missing_ok=True)
        elif native:
            print(name, version)


main()
