"""The persona catalogue the hub serves (``GET /v1/personas``).

The hub does not generate people: whoever seeds the network (``ipnsim up``, the compose seed
job) writes the personas of its population to a JSON file, and the hub reads it at start-up,
so the list always names the atena numbers and agency codes of the running network.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from error_codes import IpnsimError
from network.protocol.models import Persona, PersonaCatalogue


class PersonaFileError(ValueError):
    """The persona file is unreadable or malformed; the message names the file and why."""


def load_personas(path: Path | None) -> PersonaCatalogue:
    """The catalogue in ``path``; an empty one when the network was started without one."""
    if path is None:
        return PersonaCatalogue(seed=0, population=0, personas=[], affair_tour=[])
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        parsed = PersonaCatalogue.model_validate(raw)
    except OSError as exc:
        raise PersonaFileError(f"{path}: cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise PersonaFileError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
    except ValidationError as exc:
        raise PersonaFileError(f"{path}: not a persona catalogue: {exc}") from exc
    names = [persona.name for persona in parsed.personas]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PersonaFileError(f"{path}: persona listed twice: {', '.join(duplicates)}")
    unknown = sorted({stop.persona for stop in parsed.affair_tour} - set(names))
    if unknown:
        raise PersonaFileError(
            f"{path}: the affair tour names unknown personas: {', '.join(unknown)}"
        )
    return parsed


def find_persona(personas: PersonaCatalogue, name: str) -> Persona:
    """The persona called ``name``; ``VAL006`` if the catalogue has none."""
    for persona in personas.personas:
        if persona.name == name:
            return persona
    raise IpnsimError("VAL006", kind_ja="ペルソナ", kind_en="persona", code=name)
