"""What a session is, and how it is named everywhere: partitions, warehouse keys, file paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# FastF1 names session types in several ways over the years; analysts filter on these five.
SESSION_TYPES = {
    "practice 1": "practice",
    "practice 2": "practice",
    "practice 3": "practice",
    "qualifying": "qualifying",
    "sprint qualifying": "sprint_qualifying",
    "sprint shootout": "sprint_qualifying",
    "sprint": "sprint",
    "race": "race",
}


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def session_type(session_name: str) -> str:
    try:
        return SESSION_TYPES[session_name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown session name {session_name!r}; expected one of {sorted(SESSION_TYPES)}") from None


@dataclass(frozen=True)
class SessionRef:
    """One session as a source's catalogue lists it. `locator` tells the source where it lives."""

    season: int
    round: int
    event_name: str
    session_name: str
    event_date: date
    location: str
    country: str
    circuit_ref: str
    source: str
    locator: str

    @property
    def key(self) -> str:
        return session_key(self.season, self.round, self.event_name, self.session_name)

    @property
    def session_type(self) -> str:
        return session_type(self.session_name)


def session_key(season: int, round_: int, event_name: str, session_name: str) -> str:
    """`2023-16-japanese-grand-prix-race`: sortable by season and round, readable in the UI."""
    return f"{season}-{round_:02d}-{slugify(event_name)}-{slugify(session_name)}"


# FastF1 names a circuit by its town; the archive and Ergast use these references. One key per
# circuit keeps "Monza" from FastF1 and "monza" from the archive the same circuit for the models.
CIRCUIT_REFS = {
    "sakhir": "bahrain",
    "jeddah": "jeddah",
    "melbourne": "albert_park",
    "baku": "baku",
    "miami": "miami",
    "miami-gardens": "miami",
    "monaco": "monaco",
    "monte-carlo": "monaco",
    "imola": "imola",
    "barcelona": "catalunya",
    "montmel": "catalunya",
    "montmelo": "catalunya",
    "montreal": "villeneuve",
    "montr-al": "villeneuve",
    "spielberg": "red_bull_ring",
    "silverstone": "silverstone",
    "budapest": "hungaroring",
    "spa": "spa",
    "spa-francorchamps": "spa",
    "zandvoort": "zandvoort",
    "monza": "monza",
    "marina-bay": "marina_bay",
    "singapore": "marina_bay",
    "suzuka": "suzuka",
    "lusail": "losail",
    "austin": "americas",
    "mexico-city": "rodriguez",
    "s-o-paulo": "interlagos",
    "sao-paulo": "interlagos",
    "las-vegas": "vegas",
    "yas-island": "yas_marina",
    "yas-marina": "yas_marina",
    "abu-dhabi": "yas_marina",
    "shanghai": "shanghai",
    "le-castellet": "ricard",
    "sochi": "sochi",
    "hockenheim": "hockenheimring",
    "mugello": "mugello",
    "n-rburgring": "nurburgring",
    "nurburgring": "nurburgring",
    "portim-o": "portimao",
    "portimao": "portimao",
    "istanbul": "istanbul",
    "madrid": "madring",
}


def circuit_ref(location: str) -> str:
    slug = slugify(location)
    return CIRCUIT_REFS.get(slug, slug.replace("-", "_"))


# A live request names its event, not its town: the circuit each Grand Prix name is held at.
EVENT_CIRCUITS = {
    "bahrain": "bahrain",
    "sakhir": "bahrain",
    "saudi-arabian": "jeddah",
    "australian": "albert_park",
    "japanese": "suzuka",
    "chinese": "shanghai",
    "miami": "miami",
    "emilia-romagna": "imola",
    "monaco": "monaco",
    "canadian": "villeneuve",
    "spanish": "catalunya",
    "barcelona-catalunya": "catalunya",
    "austrian": "red_bull_ring",
    "styrian": "red_bull_ring",
    "british": "silverstone",
    "70th-anniversary": "silverstone",
    "hungarian": "hungaroring",
    "belgian": "spa",
    "dutch": "zandvoort",
    "italian": "monza",
    "azerbaijan": "baku",
    "singapore": "marina_bay",
    "united-states": "americas",
    "mexico-city": "rodriguez",
    "mexican": "rodriguez",
    "sao-paulo": "interlagos",
    "s-o-paulo": "interlagos",
    "brazilian": "interlagos",
    "las-vegas": "vegas",
    "qatar": "losail",
    "abu-dhabi": "yas_marina",
    "french": "ricard",
    "russian": "sochi",
    "german": "hockenheimring",
    "tuscan": "mugello",
    "eifel": "nurburgring",
    "portuguese": "portimao",
    "turkish": "istanbul",
}


def circuit_of_event(event_name: str) -> str:
    """`Qatar Grand Prix` -> `losail`; an event it does not know becomes a slug of its name (the
    models treat a circuit they never saw as unknown, which is what it is)."""
    slug = slugify(event_name).removesuffix("-grand-prix")
    return EVENT_CIRCUITS.get(slug, slug.replace("-", "_"))
