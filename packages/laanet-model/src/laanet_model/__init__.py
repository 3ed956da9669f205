"""laanet_model."""
