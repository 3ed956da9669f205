"""The search behind the built-in weights, kept runnable: the real-image validation protocol (selection data,
renderings, the report), the selection rule and its searches, and weight averages ("model soups").

Not published: it builds on ``laanet-train`` and reads the project's shared data folder. ``laanet-research``
is its command line (see ``research/README.md``).
"""
