"""relocate.py VENV FROM TO: rewrites every occurrence of the build dir FROM in the text files of
the virtualenv VENV (script shebangs, activate scripts, pyvenv.cfg, RECORD files) to TO, the
path the slug is mounted at in a dyno (/app). Binary files (compiled extensions, bytecode) are
left alone; bytecode is recompiled with TO's paths afterwards."""

import os
import pathlib
import sys


def main():
    venv, old, new = pathlib.Path(sys.argv[1]), os.fsencode(sys.argv[2]), os.fsencode(sys.argv[3])
    for path in venv.rglob("*"):
        if path.is_symlink():
            target = os.readlink(path)
            if os.fsencode(target).startswith(old):
                path.unlink()
                path.symlink_to(os.fsdecode(new + os.fsencode(target)[len(old):]))
            continue
        if not path.is_file() or path.suffix == ".pyc":
            continue
        data = path.read_bytes()
        if old not in data or b"\0" in data[:8192]:
            continue
        path.write_bytes(data.replace(old, new))


main()
