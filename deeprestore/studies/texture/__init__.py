"""The texture study (``evaluate.py texture``)."""
