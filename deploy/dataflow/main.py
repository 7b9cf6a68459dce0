"""Dataflow Flex Template entry point: the launcher runs this file with the template's parameters.

The launcher passes every parameter, and the job's own options (runner, project, region,
temp_location, job_name, ...), as ``--name=value`` flags; they go to ``wirestream run`` unchanged,
except Beam's boolean flags, which take no value on the command line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pipeline.cli import main

# Beam flags that are switches (store_true); a template parameter always carries a value.
_SWITCHES = ("--streaming",)


def wirestream_args(flex_args: Sequence[str]) -> list[str]:
    """The ``wirestream`` command line for the launcher's flags.

    ``--streaming=true`` becomes ``--streaming``, ``--streaming=false`` is dropped, and the launcher
    must not wait for the job to finish (Dataflow runs it after the launcher exits).
    """
    args = ["run"]
    for arg in flex_args:
        name, has_value, value = arg.partition("=")
        if name in _SWITCHES and has_value:
            if value.strip().lower() == "true":
                args.append(name)
            continue
        args.append(arg)
    return [*args, "--no_wait_until_finish"]


if __name__ == "__main__":
    sys.exit(main(wirestream_args(sys.argv[1:])))
