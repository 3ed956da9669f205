"""laanet_synth."""
