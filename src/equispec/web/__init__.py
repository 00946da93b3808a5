"""``equispec serve``: a local web page over the workflows layer, for people at a beamline who would rather
upload a CIF and a measurement than write Python.

- :mod:`.app`: the FastAPI application (routes, token check, upload limit); :func:`create_app`.
- :mod:`.uploads`: uploaded files, checked and stored under generated folders in a private temporary folder.
- :mod:`.tasks`: what one request or job does, through :mod:`equispec.workflows`, writing the same files the
  command line writes.
- :mod:`.jobs`: physics, hybrid and S(Q,E) work in worker processes, with progress and cancel.
- :mod:`.figures`: plotly figure records for the page (plotly.js is served from the installed ``plotly``
  package, so the page works without internet).
- :mod:`.server`: binding, the token rule and uvicorn.
"""
