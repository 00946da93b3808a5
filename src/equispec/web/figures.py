"""Plotly figure records (``{"id", "data", "layout"}``, plain JSON lists) for the page, drawn by the
plotly.js that the installed ``plotly`` package ships. The same spectra the command line's PNGs show; the
numbers are those of the prediction or comparison, unrounded, so a test can check them against the CLI."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["phdos_figures", "xas_figures", "comparison_figures"]

_CM1_PER_MEV = 8.065544


def _list(values) -> list:
    """Floats as a JSON list, NaN and infinities as null (JSON has neither)."""
    return [None if not math.isfinite(v) else v for v in np.asarray(values, dtype=float).ravel().tolist()]


#: A legend above the plot leaves the plot area full width, so stacked figures share their x axis lines.
_LEGEND_ON_TOP = {"orientation": "h", "x": 0, "y": 1.12}


def _figure(figure_id: str, title: str, x_title: str, y_title: str, data: list, **layout) -> dict:
    return {"id": figure_id, "data": data,
            "layout": {"title": {"text": title}, "xaxis": {"title": {"text": x_title}},
                       "yaxis": {"title": {"text": y_title}}, "margin": {"t": 48, "r": 16}, **layout}}


def phdos_figures(predictions) -> list[dict]:
    """Per structure: the DOS, its ±2σ band (calibrated where the model has a calibration, else the raw
    ensemble spread) and the per-element partial DOS."""
    out = []
    for k, p in enumerate(predictions):
        x = _list(p.freq_cm1)
        band = getattr(p, "dos_band", None)
        calibrated = band is not None
        if band is None and getattr(p, "dos_std", None) is not None:
            band = 2 * np.asarray(p.dos_std)
        data = []
        if band is not None:
            lower = np.clip(np.asarray(p.dos) - band, 0, None)
            data += [{"name": "−2σ", "x": x, "y": _list(lower), "mode": "lines", "line": {"width": 0},
                      "showlegend": False, "hoverinfo": "skip"},
                     {"name": "±2σ " + ("calibrated" if calibrated else "ensemble"), "x": x,
                      "y": _list(np.asarray(p.dos) + band), "mode": "lines", "line": {"width": 0}, "fill": "tonexty",
                      "fillcolor": "rgba(31,119,180,0.25)"}]
        data.append({"name": "total DOS", "x": x, "y": _list(p.dos), "mode": "lines", "line": {"width": 2.5,
                                                                                            "color": "#1f77b4"}})
        for element, partial in p.partial_dos.items():
            data.append({"name": f"{element} partial", "x": x, "y": _list(partial), "mode": "lines",
                         "line": {"width": 1.2, "dash": "dash"}})
        formula = p.structure.composition.reduced_formula
        out.append(_figure(f"dos-{k}", f"{p.name} ({formula}): phonon DOS, {p.mode} mode", "Frequency (cm⁻¹)",
                           "Phonon DOS (max-normalised)", data))
    return out


def xas_figures(predictions) -> list[dict]:
    """Per structure: the site-averaged spectrum and each inequivalent absorbing site (with multiplicity)."""
    out = []
    for k, p in enumerate(predictions):
        x = _list(p.energy_ev)
        data = [{"name": "average", "x": x, "y": _list(p.mu), "mode": "lines", "line": {"width": 2.5}}]
        for index, multiplicity, mu in zip(p.site_indices, p.multiplicities, p.site_mu):
            data.append({"name": f"{p.element} site {index} (×{multiplicity})", "x": x, "y": _list(mu),
                         "mode": "lines", "line": {"width": 1.2, "dash": "dash"}})
        out.append(_figure(f"xas-{k}", f"{p.name} ({p.structure.composition.reduced_formula}): {p.element} "
                           f"{p.edge}-edge XANES", f"Photon energy (eV, {p.element} {p.edge} edge, FEFF scale)",
                           "Absorption μ", data))
    return out


def comparison_figures(comparison) -> list[dict]:
    """A spectrum comparison: overlay and residual; an S(Q,E) comparison: measured | predicted | residual
    maps and the Q-integrated cut."""
    if comparison.kind == "sqe":
        return _map_figures(comparison)
    a = comparison.arrays()
    x = _list(a["grid"])
    unit = comparison.energy_unit
    overlay = _figure("overlay", f"{comparison.name} vs {comparison.measured_name}", f"Energy ({unit})",
                      "Intensity (as compared)",
                      [{"name": "measured", "x": x, "y": _list(a["measured"]), "mode": "lines",
                        "line": {"color": "black", "width": 2}},
                       {"name": "predicted", "x": x, "y": _list(a["predicted"]), "mode": "lines",
                        "line": {"color": "#d62728", "width": 2}}], legend=_LEGEND_ON_TOP)
    residual = _figure("residual", "Residual (predicted − measured)", f"Energy ({unit})", "Residual",
                       [{"name": "residual", "x": x, "y": _list(a["predicted"] - a["measured"]), "mode": "lines",
                         "line": {"color": "#7f7f7f"}}])
    return [overlay, residual]


def _map_figures(comparison) -> list[dict]:
    a = comparison.arrays()
    q, e = _list(a["q_inv_ang"]), _list(a["energy_mev"])
    maps = [("map-measured", "Measured S(Q,E)", a["measured"]), ("map-predicted", "Predicted a·P + b", a["predicted"]),
            ("map-residual", "Residual (predicted − measured)", a["predicted"] - a["measured"])]
    out = []
    for figure_id, title, values in maps:
        z = [_list(row) for row in np.asarray(values).T]  # rows are energies: E up, |Q| across
        colorscale = "RdBu" if figure_id == "map-residual" else "Viridis"
        out.append(_figure(figure_id, title, "|Q| (1/Å)", "Energy (meV)",
                           [{"type": "heatmap", "x": q, "y": e, "z": z, "colorscale": colorscale}]))
    cut = comparison.cut
    cut_data = [{"name": key.replace("_", " "), "x": _list(cut["energy_mev"]), "y": _list(values), "mode": "lines"}
                for key, values in cut.items() if key != "energy_mev"]
    out.append(_figure("cut", "Q-integrated cut over the compared region", "Energy (meV)", "Intensity", cut_data))
    return out
