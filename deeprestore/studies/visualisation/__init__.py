"""Class visualisations by activation maximisation under several presets (:mod:`.study`)."""
