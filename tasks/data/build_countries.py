"""Rebuild `countries.json`: country and territory names in many languages, for the PII scrubber's address grammar
(a country written after an address's city or postcode is part of the address: "..., 60277 West Elaineville,
Azerbaijan", "..., 48909 Albacete, Emiratos Árabes Unidos").

Source: the `countries` lists of Faker's address providers, all locales (MIT, https://github.com/joke2k/faker, the
version in requirements-dev.lock): ~5,900 names in the locales' languages and scripts. Faker is a development
dependency; the scrubber reads the JSON.

    .venv/bin/python tasks/data/build_countries.py

Output: lower-cased names, sorted; the grammar matches them token by token, so only where an address's tail
can hold a country.
"""

import importlib
import json
import pkgutil
from pathlib import Path


def main() -> None:
    import faker
    import faker.providers.address as address

    names: set[str] = set()
    for module in pkgutil.iter_modules(address.__path__):
        countries = getattr(importlib.import_module(f"{address.__name__}.{module.name}").Provider, "countries", None)
        if isinstance(countries, (list, tuple)):
            names.update(c.strip().lower() for c in countries if isinstance(c, str) and len(c.strip()) > 2)
    out = Path(__file__).with_name("countries.json")
    out.write_text(json.dumps({
        "source": f"the countries lists of Faker {faker.VERSION}'s address providers (all locales)",
        "license": "MIT (Copyright (c) 2012 Daniele Faraglia)",
        "names": sorted(names),
    }, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(names)} names")


if __name__ == "__main__":
    main()
