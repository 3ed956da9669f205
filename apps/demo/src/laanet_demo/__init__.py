"""laanet_demo."""
