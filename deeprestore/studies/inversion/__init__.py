"""The inversion study: methods (:mod:`.methods`), scores (:mod:`.scoring`), one job as a Lightning predict loop (:mod:`.job`), the report (:mod:`.report`) and the runner (:mod:`.study`)."""
