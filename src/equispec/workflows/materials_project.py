"""Materials Project through mp-api: structures, DFPT phonon DOS and XAS documents, cached on disk.

Why the layers:

- The API key comes from ``MP_API_KEY`` or pymatgen's settings (``PMG_MAPI_KEY`` in
  ``~/.config/.pmgrc.yaml``). It is handed to mp-api and to nothing else: no message, log line or
  cache file holds it, and any text from the server is scrubbed of it before it reaches an error.
- Every answer is cached (:mod:`.mp_cache`) as it arrives; the client connects only on the first
  cache miss, so a fully cached rerun works offline and makes no request at all.
- Before mp-api is imported (several seconds) or asked anything, one heartbeat request with short
  timeouts and a retry tells "no network" from everything else, so that a machine without network
  fails within seconds. mp-api's own requests then go through a session with timeouts and retries
  with exponential backoff (HTTP 429/5xx and connection errors).
- Failures become :class:`~equispec.errors.InputError` with one sentence: no key, bad key, no
  network, unknown id. A material without the data asked for is not an error here: builders skip
  and list it.

``EQUISPEC_MP_ENDPOINT`` points the client at another server implementing the same API (a mirror,
or the fake server of the tests).
"""

from __future__ import annotations

import os
import re
import time
import warnings
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from ..errors import InputError
from .mp_cache import DiskCache, default_cache_dir
from ..data.structures import MP_ID_PATTERN, is_mp_id

__all__ = ["MP_ID_PATTERN", "ENDPOINT_ENV", "DEFAULT_ENDPOINT", "is_mp_id", "resolve_api_key", "resolve_endpoint",
           "MaterialsProject", "PhononRecord", "XasRecord", "fetch_structure"]

#: Environment variable naming another API endpoint (mirrors, tests).
ENDPOINT_ENV = "EQUISPEC_MP_ENDPOINT"
DEFAULT_ENDPOINT = "https://api.materialsproject.org/"
KEY_SOURCE = "MP_API_KEY"

#: Heartbeat check: (connect, read) timeout in s, attempts, first backoff in s. Worst case 5.5 s, which
#: with Python's start-up and imports keeps "no network" under 15 s on a busy 2-core machine.
PREFLIGHT_TIMEOUT_S = (2.0, 2.5)
PREFLIGHT_ATTEMPTS = 2
PREFLIGHT_BACKOFF_S = 0.5
#: mp-api data requests: timeout in s, urllib3 retries and backoff factor (waits 1, 2, 4 s).
REQUEST_TIMEOUT_S = 30
REQUEST_RETRIES = 3
REQUEST_BACKOFF_S = 1.0
#: Ids per summary/XAS request.
BATCH_SIZE = 50


def resolve_api_key(api_key: str | None = None) -> str:
    """The key from the argument, ``MP_API_KEY`` or pymatgen's ``PMG_MAPI_KEY``; a clear error without one."""
    key = api_key or os.environ.get("MP_API_KEY")
    if not key:
        try:
            from pymatgen.core import SETTINGS

            key = SETTINGS.get("PMG_MAPI_KEY")
        except ImportError:  # pragma: no cover - pymatgen is a dependency
            key = None
    if not key:
        raise InputError(KEY_SOURCE, "no Materials Project API key: export MP_API_KEY=<your key> "
                                     "(from https://materialsproject.org/api) or set PMG_MAPI_KEY in ~/.config/.pmgrc.yaml")
    key = str(key).strip()
    if len(key) != 32 or not key.isalnum():  # mp-api's own rule; checked here so that no request is made
        raise InputError(KEY_SOURCE, "not a Materials Project API key (keys are 32 letters and digits)")
    return key


def resolve_endpoint(endpoint: str | None = None) -> str:
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT
    return endpoint if endpoint.endswith("/") else endpoint + "/"


@dataclass
class PhononRecord:
    """DFPT phonon DOS of one material as Materials Project gives it (frequencies in THz)."""

    material_id: str
    phonon_id: str
    structure: Structure
    freq_thz: np.ndarray
    dos: np.ndarray


@dataclass
class XasRecord:
    """One XAS document: a (site-weighted) spectrum of ``absorbing_element`` with its structure."""

    material_id: str
    site_index: int
    absorbing_element: str
    edge: str
    spectrum_type: str
    energy_ev: np.ndarray
    mu: np.ndarray
    structure: Structure


class MaterialsProject:
    """Cached access to the three kinds of documents equispec uses.

    Args:
        api_key: the key; default ``MP_API_KEY`` or pymatgen's settings (looked up at the first request).
        endpoint: API root; default ``EQUISPEC_MP_ENDPOINT`` or the public Materials Project.
        cache_dir: cache folder; default per endpoint under ``EQUISPEC_CACHE_DIR`` or ``~/.cache/equispec``.
    """

    def __init__(self, api_key: str | None = None, endpoint: str | None = None, cache_dir=None):
        self._api_key = api_key
        self.endpoint = resolve_endpoint(endpoint)
        self.cache = DiskCache(cache_dir or default_cache_dir(self.endpoint))
        self._resters: dict[str, object] = {}
        self._key: str | None = None
        self._checked = False

    # -- connection -------------------------------------------------------------------------------

    def _connect(self) -> str:
        """Key, then network, checked once before the first request."""
        if self._key is None:
            self._key = resolve_api_key(self._api_key)
        if not self._checked:
            self._preflight()
            self._checked = True
        return self._key

    def _preflight(self) -> None:
        import requests

        last = None
        for attempt in range(PREFLIGHT_ATTEMPTS):
            if attempt:
                time.sleep(PREFLIGHT_BACKOFF_S * 2 ** (attempt - 1))
            try:
                response = requests.get(self.endpoint + "heartbeat", timeout=PREFLIGHT_TIMEOUT_S)
            except requests.Timeout:
                last = "timed out"
                continue
            except requests.RequestException as exc:
                last = f"connection failed: {type(exc).__name__}"
                continue
            if response.status_code >= 500:
                last = f"server error HTTP {response.status_code}"
                continue
            return
        raise InputError(self.endpoint, f"cannot reach the Materials Project ({last}); check the network "
                                        "connection (or EQUISPEC_MP_ENDPOINT)")

    def _rester(self, kind: str):
        """One mp-api rester per endpoint kind, sharing a session with timeouts and retries."""
        if kind not in self._resters:
            key = self._connect()
            from mp_api.client.routes.materials.materials import MaterialsRester
            from mp_api.client.routes.materials.phonon import PhononRester
            from mp_api.client.routes.materials.summary import SummaryRester
            from mp_api.client.routes.materials.xas import XASRester

            classes = {"materials": MaterialsRester, "summary": SummaryRester, "phonon": PhononRester,
                       "xas": XASRester}
            with self._translated():
                self._resters[kind] = classes[kind](api_key=key, endpoint=self.endpoint, session=self._session(key),
                                                    mute_progress_bars=True, timeout=REQUEST_TIMEOUT_S)
        return self._resters[kind]

    def _session(self, key: str):
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        session = requests.Session()
        session.headers.update({"x-api-key": key})
        retry = Retry(total=REQUEST_RETRIES, connect=REQUEST_RETRIES, read=REQUEST_RETRIES,
                      status=REQUEST_RETRIES, backoff_factor=REQUEST_BACKOFF_S,
                      status_forcelist=(429, 500, 502, 503, 504), respect_retry_after_header=True)
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _translated(self):
        return _Translate(self)

    def _call(self, fn, *args, **kwargs):
        with self._translated(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)

    # -- structures -------------------------------------------------------------------------------

    def structures(self, material_ids: list[str]) -> dict[str, Structure | None]:
        """Structure of each id (None for an id the Materials Project does not know)."""
        out: dict[str, Structure | None] = {}
        missing = []
        for mp_id in material_ids:
            entry = self.cache.get("structure", mp_id)
            if entry is None:
                missing.append(mp_id)
            else:
                out[mp_id] = Structure.from_dict(entry["structure"]) if entry.get("structure") else None
        for batch in _batches(missing):
            docs = self._call(self._rester("materials").search, material_ids=batch,
                              fields=["material_id", "structure"])
            found = {_legacy_id(_get(doc, "material_id")): _get(doc, "structure") for doc in docs}
            for mp_id in batch:
                structure = _as_structure(found.get(mp_id))
                self.cache.put("structure", mp_id, {"structure": structure.as_dict() if structure else None})
                out[mp_id] = structure
        return {mp_id: out[mp_id] for mp_id in material_ids}

    def structure(self, material_id: str) -> Structure:
        structure = self.structures([material_id])[material_id]
        if structure is None:
            raise InputError(material_id, "no such material in the Materials Project")
        return structure

    # -- phonons ----------------------------------------------------------------------------------

    def phonon_ids(self, material_ids: list[str]) -> dict[str, list[str] | None]:
        """DFPT phonon ids per material: None for an unknown id, [] for a material without DFPT phonons."""
        out: dict[str, list[str] | None] = {}
        missing = []
        for mp_id in material_ids:
            entry = self.cache.get("phonon_ids", mp_id)
            if entry is None:
                missing.append(mp_id)
            else:
                out[mp_id] = entry["dfpt"]
        for batch in _batches(missing):
            docs = self._call(self._rester("summary").search, material_ids=batch,
                              fields=["material_id", "phonon_IDs"])
            found = {_legacy_id(_get(doc, "material_id")): (_get(doc, "phonon_IDs") or {}) for doc in docs}
            for mp_id in batch:
                ids = None if mp_id not in found else [str(i) for i in (found[mp_id].get("dfpt") or [])]
                self.cache.put("phonon_ids", mp_id, {"dfpt": ids})
                out[mp_id] = ids
        return {mp_id: out[mp_id] for mp_id in material_ids}

    def search_phonon_materials(self, query: dict[str, str]) -> list[str]:
        """Ids of materials with phonon data that match ``query`` (summary search keys such as
        ``chemsys``, ``formula``, ``elements``); their phonon ids are cached on the way."""
        key = "&".join(f"{k}={query[k]}" for k in sorted(query))
        index = self.cache.get("phonon_query", key)
        if index is None:
            criteria = {k: (v.split(",") if k in ("elements", "exclude_elements") else v) for k, v in query.items()}
            docs = self._call(self._rester("summary").search, has_props=["phonon"],
                              fields=["material_id", "phonon_IDs"], **criteria)
            index = []
            for doc in docs:
                mp_id = _legacy_id(_get(doc, "material_id"))
                ids = (_get(doc, "phonon_IDs") or {}).get("dfpt") or []
                self.cache.put("phonon_ids", mp_id, {"dfpt": [str(i) for i in ids]})
                index.append(mp_id)
            self.cache.put("phonon_query", key, index)
        return index

    def phonon(self, material_id: str, phonon_id: str) -> PhononRecord:
        """The DFPT DOS and the structure it was computed for (one phonon document)."""
        entry = self.cache.get("phonon", phonon_id)
        if entry is None:
            # two requests, each cached as it arrives, so that an interruption between them loses nothing
            task = self.cache.get("phonon_task", phonon_id)
            if task is None:
                docs = self._call(self._rester("phonon").search, identifiers=[phonon_id], phonon_method="dfpt",
                                  fields=["identifier", "structure"])
                structure = _as_structure(_get(docs[0], "structure")) if docs else None
                task = {"structure": structure.as_dict() if structure is not None else None}
                self.cache.put("phonon_task", phonon_id, task)
            structure = (Structure.from_dict(task["structure"]) if task["structure"]
                         else self.structure(material_id))
            dos = self._call(self._rester("phonon").get_dos_from_phonon_id, phonon_id, "dfpt")
            entry = {"material_id": material_id, "structure": structure.as_dict(),
                     "frequencies_thz": [float(f) for f in _get(dos, "frequencies")],
                     "densities": [float(d) for d in _get(dos, "densities")]}
            self.cache.put("phonon", phonon_id, entry)
        return PhononRecord(material_id, phonon_id, Structure.from_dict(entry["structure"]),
                            np.asarray(entry["frequencies_thz"], dtype=float), np.asarray(entry["densities"], dtype=float))

    # -- XAS --------------------------------------------------------------------------------------

    def xas(self, element: str, edge: str = "K", material_ids: list[str] | None = None,
            spectrum_type: str = "XANES") -> dict[str, list[XasRecord]]:
        """XAS documents of ``element``/``edge`` per material ([] for a material without one).

        Without ``material_ids``, every material with such a document (one search, cached as a list).
        """
        kind = f"xas_{spectrum_type}_{element}_{edge}"
        if material_ids is None:
            index = self.cache.get(kind + "_index", "all")
            if index is None:
                docs = self._search_xas(element, edge, spectrum_type, None)
                grouped = self._store_xas(kind, docs, [])
                index = sorted(grouped)
                self.cache.put(kind + "_index", "all", index)
            material_ids = index
        out: dict[str, list[XasRecord]] = {}
        missing = []
        for mp_id in material_ids:
            entry = self.cache.get(kind, mp_id)
            if entry is None:
                missing.append(mp_id)
            else:
                out[mp_id] = [_xas_record(d) for d in entry]
        for batch in _batches(missing):
            grouped = self._store_xas(kind, self._search_xas(element, edge, spectrum_type, batch), batch)
            for mp_id in batch:
                out[mp_id] = [_xas_record(d) for d in grouped.get(mp_id, [])]
        return {mp_id: out[mp_id] for mp_id in material_ids}

    def _search_xas(self, element, edge, spectrum_type, material_ids):
        kwargs = {"task_ids": material_ids} if material_ids else {}
        return self._call(self._rester("xas").search, edge=edge, absorbing_element=element,
                          spectrum_type=spectrum_type, **kwargs)

    def _store_xas(self, kind: str, docs, batch: list[str]) -> dict[str, list[dict]]:
        grouped: dict[str, list[dict]] = {mp_id: [] for mp_id in batch}
        for doc in docs:
            spectrum = _get(doc, "spectrum")
            if spectrum is None:
                continue
            if isinstance(spectrum, dict):
                from pymatgen.analysis.xas.spectrum import XAS

                spectrum = XAS.from_dict(spectrum)
            mp_id = _legacy_id(_get(doc, "task_id") or _get(doc, "material_id"))
            grouped.setdefault(mp_id, []).append({
                "material_id": mp_id, "site_index": int(spectrum.absorbing_index),
                "absorbing_element": str(spectrum.absorbing_element), "edge": str(spectrum.edge),
                "spectrum_type": str(spectrum.spectrum_type), "energy_ev": [float(x) for x in spectrum.x],
                "mu": [float(y) for y in spectrum.y], "structure": spectrum.structure.as_dict()})
        for mp_id, entries in grouped.items():
            self.cache.put(kind, mp_id, entries)
        return grouped


class _Translate:
    """Context manager: a failed request (transport, HTTP status, the server's error answer, an answer that
    does not parse) -> one-sentence ``InputError`` without the key. Anything else, e.g. a ``KeyError`` or
    ``ValueError`` from code on our side of the call, propagates with its traceback: it is a bug to fix,
    not a request to retry."""

    def __init__(self, client: MaterialsProject):
        self.client = client

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or isinstance(exc, (InputError, KeyboardInterrupt)):
            return False
        problem = _request_problem(exc, tb, self.client.endpoint, self.client._key)
        if problem is None:
            return False
        raise InputError(*problem) from None


def _request_problem(exc: BaseException, tb, endpoint: str, key: str | None) -> tuple[str, str] | None:
    """(source, one sentence) for an exception that says a request failed; None for any other exception.

    mp-api raises ``MPRestError`` for the server's error answers (with the HTTP status in the text) and wraps
    requests' transport errors in it (with their text); requests' own exceptions can also come through. An
    exception raised while mp-api turns the server's answer into emmet-core documents (any type: emmet's
    validators raise ``KeyError`` on a malformed structure) or a ``JSONDecodeError`` means the answer did not
    parse: said as such, since it is neither a network problem nor a bug of ours.
    """
    import json

    import requests

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = _scrub(first, key)
    is_rest_error = type(exc).__name__ == "MPRestError"
    if not (is_rest_error or isinstance(exc, (requests.RequestException, TimeoutError, ConnectionError))):
        if isinstance(exc, json.JSONDecodeError) or _raised_in(tb, _ANSWER_PARSERS):
            return endpoint, f"the Materials Project's answer does not fit this mp-api/emmet-core's documents " \
                             f"({type(exc).__name__}: {text}); try updating mp-api"
        return None
    full = str(exc)
    timed_out = is_rest_error and re.search(r"timed out|timeout", full, re.IGNORECASE)
    if isinstance(exc, (requests.Timeout, TimeoutError)) or timed_out:
        return endpoint, "the Materials Project did not answer in time; try again later"
    status = re.search(r"status code (\d{3})|too many (\d{3}) error responses", full)
    status = status and (status.group(1) or status.group(2))
    if status in ("401", "403"):
        return KEY_SOURCE, f"the Materials Project rejected the API key (HTTP {status}); check MP_API_KEY"
    if status and (status == "429" or status.startswith("5")):
        return endpoint, f"the Materials Project answered HTTP {status} (server busy or failing); try again later"
    if status is None and (isinstance(exc, (requests.ConnectionError, ConnectionError))
                           or is_rest_error and re.search(r"connection|max retries", full, re.IGNORECASE)):
        return endpoint, "cannot reach the Materials Project (connection failed); check the network connection"
    return endpoint, f"Materials Project request failed: {text}"


#: mp-api functions that turn the server's JSON answer into document models.
_ANSWER_PARSERS = {("mp_api", "_convert_to_model"), ("mp_api", "load_json")}


def _raised_in(tb, functions: set[tuple[str, str]]) -> bool:
    """Whether the traceback passes through one of ``functions`` ((top-level package, function name))."""
    while tb is not None:
        frame = tb.tb_frame
        if (frame.f_globals.get("__name__", "").split(".")[0], frame.f_code.co_name) in functions:
            return True
        tb = tb.tb_next
    return False


def _scrub(text: str, key: str | None) -> str:
    return text.replace(key, "***") if key else text


def _batches(items: list[str], size: int = BATCH_SIZE):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _get(doc, name: str):
    """A field of an mp-api result, whether it came back as a document model or a dict."""
    if isinstance(doc, dict):
        return doc.get(name)
    return getattr(doc, name, None)


def _legacy_id(value) -> str:
    """``mp-149`` for any spelling of that id: emmet-core >= 0.85 serialises ids as ``mp-aaaaafv``."""
    text = str(value)
    try:
        from emmet.core.mpid import AlphaID

        return f"{text.rsplit('-', 1)[0]}-{int(AlphaID(text))}" if "-" in text else text
    except (ImportError, ValueError, TypeError):
        return text


def _as_structure(value) -> Structure | None:
    if value is None or isinstance(value, Structure):
        return value
    return Structure.from_dict(value)


def _xas_record(entry: dict) -> XasRecord:
    return XasRecord(entry["material_id"], int(entry["site_index"]), entry["absorbing_element"], entry["edge"],
                     entry["spectrum_type"], np.asarray(entry["energy_ev"], dtype=float),
                     np.asarray(entry["mu"], dtype=float), Structure.from_dict(entry["structure"]))


def fetch_structure(material_id: str) -> Structure:
    """The structure of one Materials Project id, from the cache or the API (what ``predict mp-149`` uses)."""
    return MaterialsProject().structure(material_id)
