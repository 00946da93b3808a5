"""Loaded by the ``equispec`` subprocesses of the CLI tests (PYTHONPATH): the network guard, and the
phonon-DOS stand-in for mp-api's AWS Delta-table read (see ``tests/workflows/mp_fake.py``)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

from tests.workflows import mp_guard  # noqa: E402

mp_guard.install_network_guard(os.environ.get("EQUISPEC_TEST_NET_LOG"))

if os.environ.get("EQUISPEC_TEST_PHONON_DOS"):
    import json

    from mp_api.client.routes.materials.phonon import PhononRester

    from tests.workflows import mp_fake

    with open(os.environ["EQUISPEC_TEST_PHONON_DOS"]) as handle:
        PhononRester.get_dos_from_phonon_id = mp_fake.fake_get_dos(json.load(handle))
