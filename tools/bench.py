"""``make bench``: every performance figure, each a ratio of two things measured in this run.

replay   tools/bench_replay.py   contracttape (parsed-cassette store warm and cold) vs an
                                 in-memory floor vs vcrpy + pytest-recording; peak memory
record   tools/bench_record.py   recording through contracttape vs the same calls made directly
start    tools/bench_startup.py  plugin import and ``pytest --co`` vs pytest-recording's

  python tools/bench.py [--quick]     (--quick: smaller sizes and fewer rounds)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    runs = [
        ["bench_replay.py", *(["--sizes", "100,1000"] if quick else [])],
        ["bench_record.py", *(["--rounds", "3"] if quick else [])],
        ["bench_startup.py", *(["--rounds", "3"] if quick else ["--rounds", "7"])],
    ]
    for script, *args in runs:
        subprocess.run([sys.executable, str(HERE / script), *args], check=True)
        print()


if __name__ == "__main__":
    main()
