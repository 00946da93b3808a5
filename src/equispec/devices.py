"""``--device auto|cpu|cuda``: one place that turns a device name into a ``torch.device``."""

from __future__ import annotations

from .errors import ModelError

__all__ = ["DEVICE_CHOICES", "resolve_device"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device="auto"):
    """``auto`` takes the GPU when torch sees one, else the CPU; ``cuda`` (or ``cuda:N``) must be present.

    Raises:
        ModelError: a GPU was asked for and torch sees none, or the name is not a device.
    """
    import torch

    if isinstance(device, torch.device):
        return device
    text = str(device).lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(text)
    except RuntimeError:
        raise ModelError(str(device), f"unknown device (use {', '.join(DEVICE_CHOICES)})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(str(device), "no CUDA GPU is visible to torch (use --device cpu or auto)")
    return resolved
