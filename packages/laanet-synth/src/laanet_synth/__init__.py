"""laanet_synth: face finding, landmarks, crop recipes and SBI/BI pseudo-fake synthesis for LAA-Net."""

__version__ = "0.1.0"
