"""Read and validate a city's network data file, YAML or JSON (docs/network-data.md).

``network_file_parse`` reads the WHOLE file without touching the database into a ``NetworkSpec``;
every problem is reported with its line number and field path, e.g.
``data/x.yaml line 42: institutions[3].tier: unknown tier 'quaternary'``. Applying a spec to the
database is ``healthnet.network_loader``'s job.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from healthnet.network_file.reading import read_document
from healthnet.network_file.spec import (
    FORMAT_VERSION,
    AllianceSpec,
    DepartmentSpec,
    DistrictSpec,
    InstitutionSpec,
    MembershipSpec,
    NetworkFileInvalid,
    NetworkSpec,
    Problem,
)
from healthnet.network_file.validation import Validator

DEFAULT_NETWORK_FILE = Path(settings.BASE_DIR) / "data" / "wuhai.yaml"


def network_file_parse(path: str | Path) -> NetworkSpec:
    """Read and validate a whole network file; raise NetworkFileInvalid listing every problem."""
    source = str(path)
    document, sha256 = read_document(Path(path), source)
    validator = Validator()
    spec = validator.network(document, sha256)
    if spec is None:
        raise NetworkFileInvalid(source, validator.problems)
    return spec


def district_population(path: str | Path = DEFAULT_NETWORK_FILE) -> dict[str, int]:
    """The approximate population per district code in a network file (for the demo generator;
    once loaded, the same figures are `District.population`)."""
    return network_file_parse(path).district_population


__all__ = [
    "DEFAULT_NETWORK_FILE",
    "FORMAT_VERSION",
    "AllianceSpec",
    "DepartmentSpec",
    "DistrictSpec",
    "InstitutionSpec",
    "MembershipSpec",
    "NetworkFileInvalid",
    "NetworkSpec",
    "Problem",
    "district_population",
    "network_file_parse",
]
