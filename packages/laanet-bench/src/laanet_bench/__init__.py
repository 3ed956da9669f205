"""laanet_bench."""
