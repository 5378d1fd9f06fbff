"""Pretrained image encoders and their preprocessing (the "embed, then cluster" path)."""
from .hub import HubEncoder, is_hub_spec, load_hub_encoder
from .preprocessing import Preprocessing

__all__ = ["HubEncoder", "Preprocessing", "is_hub_spec", "load_hub_encoder"]
