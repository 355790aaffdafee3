"""The calibration study: tune a preset per layer on one split of the held-out set, report on the other (:mod:`.study`)."""
