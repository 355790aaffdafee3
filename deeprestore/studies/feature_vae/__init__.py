"""The feature-map VAE study (``evaluate.py feature-vae``)."""
